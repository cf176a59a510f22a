#include "engine/runtime/cuda_memory.h"

#include <algorithm>

#include <cuda_runtime.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_launch.cuh"

namespace loom::cuda_memory {
namespace {

// Tensor::fill's kernel. The ops' launch helpers (kernels/launch.cuh) sit above the runtime, which launches only this.
__global__ void fill_kernel(float* data, int64_t count, float value) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
    data[i] = value;
}

}  // namespace

void* allocate_device(size_t bytes) {
  void* data = nullptr;
  LOOM_CUDA_CHECK(cudaMalloc(&data, bytes));
  return data;
}

void* allocate_pinned(size_t bytes) {
  void* data = nullptr;
  LOOM_CUDA_CHECK(cudaMallocHost(&data, bytes));
  return data;
}

void free_device(void* data) noexcept { LOOM_CUDA_WARN(cudaFree(data)); }
void free_pinned(void* data) noexcept { LOOM_CUDA_WARN(cudaFreeHost(data)); }

void copy(void* destination, const void* source, size_t bytes, bool wait) {
  CudaContext& context = CudaContext::get();
  LOOM_CUDA_CHECK(cudaMemcpyAsync(destination, source, bytes, cudaMemcpyDefault, context.stream()));
  if (wait) context.synchronize();
}

void zero(void* data, size_t bytes) { LOOM_CUDA_CHECK(cudaMemsetAsync(data, 0, bytes, CudaContext::get().stream())); }

void fill(float* data, int64_t count, float value) {
  if (count <= 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = std::min<int64_t>((count + kThreads - 1) / kThreads, 4096);
  LOOM_LAUNCH(fill_kernel, static_cast<unsigned>(blocks), kThreads, 0, CudaContext::get().stream())(data, count, value);
  LOOM_CUDA_CHECK_LAUNCH();
}

void device_memory(size_t& free_bytes, size_t& total_bytes) {
  LOOM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
}

}  // namespace loom::cuda_memory
