#include "engine/runtime/buffer.h"

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>

#include "engine/runtime/cuda_memory.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

constexpr size_t kHostAlignment = 64;
std::atomic<size_t> g_device_in_use{0};
std::atomic<size_t> g_device_peak{0};
std::atomic<uint64_t> g_gpu_visible_releases{0};

void note_device_alloc(size_t bytes) {
  size_t now = g_device_in_use.fetch_add(bytes) + bytes;
  size_t peak = g_device_peak.load();
  while (now > peak && !g_device_peak.compare_exchange_weak(peak, now)) {
  }
}

}  // namespace

Buffer::Buffer(Memory memory, size_t bytes) : bytes_(bytes), memory_(memory) {
  if (bytes == 0) return;
  switch (memory) {
    case Memory::Host: {
      size_t rounded = (bytes + kHostAlignment - 1) / kHostAlignment * kHostAlignment;
      data_ = std::aligned_alloc(kHostAlignment, rounded);
      if (!data_) throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes");
      break;
    }
    case Memory::PinnedHost:
      data_ = cuda_memory::allocate_pinned(bytes);
      break;
    case Memory::Device:
      data_ = cuda_memory::allocate_device(bytes);
      note_device_alloc(bytes);
      break;
  }
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)), memory_(other.memory_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    memory_ = other.memory_;
  }
  return *this;
}

void Buffer::release() noexcept {
  if (!data_) return;
  switch (memory_) {
    case Memory::Host:
      std::free(data_);
      break;
    case Memory::PinnedHost:
      cuda_memory::free_pinned(data_);
      g_gpu_visible_releases.fetch_add(1);
      break;
    case Memory::Device:
      cuda_memory::free_device(data_);
      g_device_in_use.fetch_sub(bytes_);
      g_gpu_visible_releases.fetch_add(1);
      break;
  }
  data_ = nullptr;
  bytes_ = 0;
}

size_t Buffer::device_bytes_in_use() { return g_device_in_use.load(); }
size_t Buffer::device_bytes_peak() { return g_device_peak.load(); }
uint64_t Buffer::gpu_visible_releases() { return g_gpu_visible_releases.load(); }

}  // namespace loom
