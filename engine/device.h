// Where tensors live and ops run, and how to find out whether a usable GPU is present.
#pragma once

#include <string>

namespace loom {

enum class Device { CPU, CUDA };

const char* device_name(Device device);

// What probing for a GPU found. `usable` is true only when a kernel of this build actually ran on device 0.
struct CudaProbe {
  bool usable = false;
  std::string reason;      // why not usable, in plain words ("no CUDA device found", "driver too old", ...)
  std::string gpu_name;    // e.g. "NVIDIA H100 80GB HBM3"
  int compute_major = 0;
  int compute_minor = 0;
};

// Probes once per process (the answer is cached): tells apart no GPU, a driver older than the runtime, and a GPU
// this build has no kernel image for.
const CudaProbe& probe_cuda();

// Resolves a --device flag value: "cpu", "cuda" or "auto". "cuda" without a usable GPU throws UsageError with the
// probe's reason; "auto" falls back to the CPU and sets *fallback_note to a one-line explanation.
Device resolve_device(const std::string& flag, std::string* fallback_note);

}  // namespace loom
