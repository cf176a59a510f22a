// Where tensors live and ops run, and how to find out whether a usable GPU is present.
#pragma once

#include <string>

#include <cuda_runtime_api.h>

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

// What the probe's CUDA calls returned, in the order it makes them. A stage runs only when the ones before it found
// nothing wrong; the fields of a stage that did not run keep their defaults.
struct CudaProbeObservations {
  int driver_version = 0;   // cudaDriverGetVersion: 0 when no NVIDIA driver is installed at all
  int runtime_version = 0;  // cudaRuntimeGetVersion: the CUDA runtime this build links
  cudaError_t device_count_status = cudaSuccess;  // cudaGetDeviceCount
  int device_count = 0;
  cudaError_t properties_status = cudaSuccess;  // cudaGetDeviceProperties(device 0); the three below only on success
  std::string gpu_name;
  int compute_major = 0;
  int compute_minor = 0;
  cudaError_t kernel_status = cudaSuccess;  // allocating, launching and synchronizing a test kernel on device 0
};

// The verdict on what the probe saw: a pure function (no CUDA call but cudaGetErrorString), so that every failure
// branch can be tested on any machine. probe_cuda() gathers the observations and returns this.
CudaProbe classify_cuda_probe(const CudaProbeObservations& seen);

// Resolves a --device flag value: "cpu", "cuda" or "auto". "cuda" without a usable GPU throws UsageError with the
// probe's reason; "auto" falls back to the CPU and sets *fallback_note to a one-line explanation.
Device resolve_device(const std::string& flag, std::string* fallback_note);

}  // namespace loom
