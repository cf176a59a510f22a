// Move-only owner of a block of memory on the host, in pinned host memory, or on the GPU. The only place in loom
// that allocates and frees pinned or device memory (through engine/runtime/cuda_memory.h, which calls
// cudaMalloc/cudaFree and cudaMallocHost/cudaFreeHost).
#pragma once

#include <cstddef>
#include <cstdint>

namespace loom {

enum class Memory { Host, PinnedHost, Device };

class Buffer {
 public:
  Buffer() = default;
  Buffer(Memory memory, size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Memory memory() const { return memory_; }

  // Bytes currently held on the GPU by all live Buffers, and the most ever held at once.
  static size_t device_bytes_in_use();
  static size_t device_bytes_peak();
  // How many device or pinned-host blocks have been freed so far. A captured CUDA graph holds raw pointers: when
  // this count has moved since its capture, memory it uses may be gone (CudaGraph::stale).
  static uint64_t gpu_visible_releases();

 private:
  void release() noexcept;

  void* data_ = nullptr;
  size_t bytes_ = 0;
  Memory memory_ = Memory::Host;
};

}  // namespace loom
