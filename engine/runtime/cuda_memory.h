// The memory operations of the CUDA path that code below the ops needs (buffers, tensors' copies and fills, the
// memory left on the GPU), declared without CUDA's headers. Every copy and fill runs in order on the context's stream.
// In a build without the CUDA path each throws, saying so (engine/runtime/without_cuda.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace loom::cuda_memory {

void* allocate_device(size_t bytes);
void* allocate_pinned(size_t bytes);
// These never throw (destructors call them): a failure is printed as a warning.
void free_device(void* data) noexcept;
void free_pinned(void* data) noexcept;

// Any pair of host, pinned and device memory. `wait`: return only once the copy is done (the host reads the result).
void copy(void* destination, const void* source, size_t bytes, bool wait);
void zero(void* data, size_t bytes);
void fill(float* data, int64_t count, float value);

// cudaMemGetInfo on the current device.
void device_memory(size_t& free_bytes, size_t& total_bytes);

}  // namespace loom::cuda_memory
