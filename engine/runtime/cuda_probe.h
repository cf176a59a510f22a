// What the GPU probe's CUDA calls returned, and the verdict on them. A header of the CUDA path alone (it names CUDA's
// own types): engine/runtime/cuda_probe.cu and its tests include it, nothing a CPU-only build compiles.
#pragma once

#include <string>

#include <cuda_runtime_api.h>

#include "engine/runtime/device.h"

namespace loom {

// The calls in the order the probe makes them. A stage runs only when the ones before it found nothing wrong; the
// fields of a stage that did not run keep their defaults.
struct CudaProbeObservations {
  int driver_version = 0;                         // cudaDriverGetVersion: 0 when no NVIDIA driver is installed at all
  int runtime_version = 0;                        // cudaRuntimeGetVersion: the CUDA runtime this build links
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

}  // namespace loom
