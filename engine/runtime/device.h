// Where tensors live and ops run, and how to find out whether a usable GPU is present.
#pragma once

#include <string>

namespace loom {

enum class Device { CPU, CUDA };

const char* device_name(Device device);

// What probing for a GPU found. `usable` is true only when a kernel of this build actually ran on device 0.
struct CudaProbe {
  bool usable = false;
  std::string reason;    // why not usable, in plain words ("no CUDA device found", "driver too old", ...)
  std::string gpu_name;  // e.g. "NVIDIA H100 80GB HBM3"
  int compute_major = 0;
  int compute_minor = 0;
  // The device is the CUDA simulator (a build with LOOM_CUDA=SIM): CUDA code runs on the CPU, so what it computes
  // is checked but no time it takes is a GPU's.
  bool simulated = false;
};

// The name the CUDA simulator gives its device (what cudaGetDeviceProperties reports there, and gpu_name says).
inline constexpr const char kCudaSimulatorName[] = "loom CUDA simulator (CPU)";

// Probes once per process (the answer is cached): tells apart no GPU, a driver older than the runtime, and a GPU
// this build has no kernel image for (engine/runtime/cuda_probe.h). In a build without the CUDA path the answer is
// "not usable" with no_cuda_path_reason(), and no CUDA call is made.
const CudaProbe& probe_cuda();

// Whether this build has the CUDA path (CMake's LOOM_CUDA chose it at configure time). Without it every CUDA entry
// point the CPU code can reach throws one error saying so (engine/runtime/without_cuda.cpp).
bool cuda_path_built();

// The words for a build without the CUDA path: why the GPU cannot be used (the probe's reason, and what a skipped GPU
// test says), and the error a CUDA entry point throws there, naming `what` was asked for.
std::string no_cuda_path_reason();
[[noreturn]] void throw_no_cuda_path(const std::string& what);

// Resolves a --device flag value: "cpu", "cuda" or "auto". "cuda" without a usable GPU throws UsageError with the
// probe's reason (in a build without the CUDA path: how to rebuild with it); "auto" falls back to the CPU and sets
// *fallback_note to a one-line explanation.
Device resolve_device(const std::string& flag, std::string* fallback_note);

// resolve_device's verdict as a pure function of the flag, what the probe found and whether this build has the CUDA
// path, so that the words of every branch can be tested in any build.
Device choose_device(const std::string& flag, const CudaProbe& probe, bool cuda_built, std::string* fallback_note);

}  // namespace loom
