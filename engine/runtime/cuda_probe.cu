#include "engine/runtime/cuda_probe.h"

#include <cuda_runtime.h>

#include "engine/runtime/cuda_launch.cuh"

namespace loom {
namespace {

__global__ void probe_kernel(int* out) { *out = 42; }

std::string version_text(int version) {  // 13000 -> "13.0"
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

// Gathers what the CUDA calls say, stopping at the first stage that fails (as classify_cuda_probe reads them).
CudaProbe run_probe() {
  CudaProbeObservations seen;
  cudaDriverGetVersion(&seen.driver_version);  // 0 when no driver is installed at all
  cudaRuntimeGetVersion(&seen.runtime_version);
  if (seen.driver_version == 0) return classify_cuda_probe(seen);
  seen.device_count_status = cudaGetDeviceCount(&seen.device_count);
  if (seen.device_count_status != cudaSuccess || seen.device_count == 0) return classify_cuda_probe(seen);
  cudaDeviceProp prop{};
  seen.properties_status = cudaGetDeviceProperties(&prop, 0);
  if (seen.properties_status == cudaSuccess) {
    seen.gpu_name = prop.name;
    seen.compute_major = prop.major;
    seen.compute_minor = prop.minor;
  }
  // Running a kernel is the only reliable way to learn whether this binary carries code for the GPU.
  int* flag = nullptr;
  cudaError_t status = cudaMalloc(&flag, sizeof(int));
  if (status == cudaSuccess) {
    LOOM_LAUNCH(probe_kernel, 1, 1, 0, nullptr)(flag);
    status = cudaGetLastError();
    if (status == cudaSuccess) status = cudaDeviceSynchronize();
    cudaFree(flag);
  }
  seen.kernel_status = status;
  return classify_cuda_probe(seen);
}

}  // namespace

CudaProbe classify_cuda_probe(const CudaProbeObservations& seen) {
  CudaProbe probe;
  if (seen.driver_version == 0) {
    probe.reason = "no CUDA device found (no NVIDIA driver is installed)";
    return probe;
  }
  // Only the runtime's own verdict counts: within one major version CUDA's minor-version compatibility runs a newer
  // runtime on an older driver, so driver_version < runtime_version alone is no reason to give up the GPU.
  const cudaError_t count_status = seen.device_count_status;
  if (count_status == cudaErrorInsufficientDriver) {
    probe.reason = "the NVIDIA driver (CUDA " + version_text(seen.driver_version) + ") is older than this build's " +
                   "CUDA runtime (" + version_text(seen.runtime_version) + "): update the driver";
    return probe;
  }
  if (count_status == cudaErrorNoDevice || (count_status == cudaSuccess && seen.device_count == 0)) {
    probe.reason = "no CUDA device found";
    return probe;
  }
  if (count_status != cudaSuccess) {
    probe.reason = std::string("CUDA is not usable: ") + cudaGetErrorString(count_status);
    return probe;
  }
  if (seen.properties_status == cudaSuccess) {
    probe.gpu_name = seen.gpu_name;
    probe.compute_major = seen.compute_major;
    probe.compute_minor = seen.compute_minor;
    probe.simulated = seen.gpu_name == kCudaSimulatorName;
  }
  const cudaError_t status = seen.kernel_status;
  if (status == cudaErrorNoKernelImageForDevice || status == cudaErrorInvalidDeviceFunction) {
    probe.reason = "this build has no kernel image for the GPU (" + probe.gpu_name + ", compute capability " +
                   std::to_string(probe.compute_major) + "." + std::to_string(probe.compute_minor) +
                   "): rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(probe.compute_major) +
                   std::to_string(probe.compute_minor);
    return probe;
  }
  if (status == cudaErrorUnsupportedPtxVersion) {  // PTX only for this GPU, and a driver too old to compile it
    probe.reason = "the NVIDIA driver (CUDA " + version_text(seen.driver_version) + ") cannot compile this build's " +
                   "PTX for the GPU (" + probe.gpu_name + "): update the driver or rebuild with " +
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

const CudaProbe& probe_cuda() {
  static const CudaProbe probe = run_probe();
  return probe;
}

bool cuda_path_built() { return true; }

}  // namespace loom
