#include "engine/runtime/device.h"

#include "engine/runtime/errors.h"

namespace loom {
namespace {

// How a build comes to lack the CUDA path, said once for every message about it.
constexpr const char* kHowBuiltWithoutCuda = "(LOOM_CUDA=OFF, or AUTO without the CUDA toolkit)";

std::string built_without_cuda() {
  return std::string("loom was built without CUDA ") + kHowBuiltWithoutCuda +
         ": rebuild with -DLOOM_CUDA=ON, with the CUDA toolkit and cuDNN installed";
}

}  // namespace

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

std::string no_cuda_path_reason() { return std::string("this build has no CUDA path ") + kHowBuiltWithoutCuda; }

void throw_no_cuda_path(const std::string& what) {
  throw Error(what + ": " + built_without_cuda() + ", or run with --device cpu");
}

Device choose_device(const std::string& flag, const CudaProbe& probe, bool cuda_built, std::string* fallback_note) {
  if (flag == "cpu") return Device::CPU;
  if (flag != "cuda" && flag != "auto")
    throw UsageError("--device: unknown device '" + flag + "' (expected auto, cuda or cpu)");
  if (probe.usable) return Device::CUDA;
  if (flag == "cuda") throw UsageError("--device cuda: " + (cuda_built ? probe.reason : built_without_cuda()));
  if (fallback_note) *fallback_note = probe.reason + ": running on the CPU";
  return Device::CPU;
}

Device resolve_device(const std::string& flag, std::string* fallback_note) {
  // Only a request that may use the GPU probes for one: --device cpu never touches the driver.
  static const CudaProbe not_probed;
  const bool may_use_gpu = flag == "cuda" || flag == "auto";
  return choose_device(flag, may_use_gpu ? probe_cuda() : not_probed, cuda_path_built(), fallback_note);
}

}  // namespace loom
