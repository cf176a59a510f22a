#include "engine/device.h"

#include <cuda_runtime.h>

#include "engine/errors.h"

namespace loom {
namespace {

__global__ void probe_kernel(int* out) { *out = 42; }

std::string version_text(int version) {  // 13000 -> "13.0"
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

CudaProbe run_probe() {
  CudaProbe probe;
  int driver_version = 0, runtime_version = 0;
  cudaDriverGetVersion(&driver_version);  // 0 when no driver is installed at all
  cudaRuntimeGetVersion(&runtime_version);
  if (driver_version == 0) {
    probe.reason = "no CUDA device found (no NVIDIA driver is installed)";
    return probe;
  }
  int count = 0;
  cudaError_t status = cudaGetDeviceCount(&count);
  // Only the runtime's own verdict counts: within one major version CUDA's minor-version compatibility runs a newer
  // runtime on an older driver, so driver_version < runtime_version alone is no reason to give up the GPU.
  if (status == cudaErrorInsufficientDriver) {
    probe.reason = "the NVIDIA driver (CUDA " + version_text(driver_version) + ") is older than this build's CUDA " +
                   "runtime (" + version_text(runtime_version) + "): update the driver";
    return probe;
  }
  if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) {
    probe.reason = "no CUDA device found";
    return probe;
  }
  if (status != cudaSuccess) {
    probe.reason = std::string("CUDA is not usable: ") + cudaGetErrorString(status);
    return probe;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    probe.gpu_name = prop.name;
    probe.compute_major = prop.major;
    probe.compute_minor = prop.minor;
  }
  // Running a kernel is the only reliable way to learn whether this binary carries code for the GPU.
  int* flag = nullptr;
  status = cudaMalloc(&flag, sizeof(int));
  if (status == cudaSuccess) {
    probe_kernel<<<1, 1>>>(flag);
    status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    cudaFree(flag);
  }
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction) {
    probe.reason = "this build has no kernel image for the GPU (" + probe.gpu_name + ", compute capability " +
                   std::to_string(probe.compute_major) + "." + std::to_string(probe.compute_minor) +
                   "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(probe.compute_major) +
                   std::to_string(probe.compute_minor);
    return probe;
  }
  if (status == cudaErrorUnsupportedPtxVersion) {  // PTX only for this GPU, and a driver too old to compile it
    probe.reason = "the NVIDIA driver (CUDA " + version_text(driver_version) + ") cannot compile this build's PTX " +
                   "for the GPU (" + probe.gpu_name + "): update the driver or rebuild with " +
                   "-DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(probe.compute_major) +
                   std::to_string(probe.compute_minor);
    return probe;
  }
  if (status != cudaSuccess) {
    probe.reason = std::string("the GPU failed a test kernel: ") + cudaGetErrorString(status);
    return probe;
  }
  probe.usable = true;
  return probe;
}

}  // namespace

const char* device_name(Device device) { return device == Device::CUDA ? "cuda" : "cpu"; }

const CudaProbe& probe_cuda() {
  static const CudaProbe probe = run_probe();
  return probe;
}

Device resolve_device(const std::string& flag, std::string* fallback_note) {
  if (flag == "cpu") return Device::CPU;
  if (flag != "cuda" && flag != "auto")
    throw UsageError("--device: unknown device '" + flag + "' (expected auto, cuda or cpu)");
  const CudaProbe& probe = probe_cuda();
  if (probe.usable) return Device::CUDA;
  if (flag == "cuda") throw UsageError("--device cuda: " + probe.reason);
  if (fallback_note) *fallback_note = probe.reason + ": running on the CPU";
  return Device::CPU;
}

}  // namespace loom
