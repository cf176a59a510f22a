// The CUDA runtime's memory functions for the simulated device: allocation (device_memory.h) and the copies and sets
// of memory, queued as operations of the device with CUDA's synchronization rules for each kind of memory.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "simulator/capture.h"
#include "simulator/device.h"
#include "simulator/device_memory.h"
#include "simulator/runtime_guard.h"
#include "simulator/streams.h"

namespace loom::sim {
namespace {

enum class Memory { Device, Pinned, Pageable };

const char* memory_name(Memory memory) {
  switch (memory) {
    case Memory::Device:
      return "device";
    case Memory::Pinned:
      return "pinned host";
    case Memory::Pageable:
      return "pageable host";
  }
  return "";
}

// What kind of memory [pointer, pointer + bytes) is: cudaErrorInvalidValue for a null pointer or a range that starts
// inside a device block and runs past its end.
cudaError_t classify(const void* pointer, size_t bytes, Memory& memory) {
  if (!pointer) return cudaErrorInvalidValue;
  if (is_device_range(pointer, bytes)) {
    memory = Memory::Device;
  } else if (inside_device_block(pointer)) {
    return cudaErrorInvalidValue;
  } else {
    memory = is_pinned_range(pointer, bytes) ? Memory::Pinned : Memory::Pageable;
  }
  return cudaSuccess;
}

bool direction_matches(cudaMemcpyKind kind, Memory to, Memory from) {
  const bool to_device = to == Memory::Device, from_device = from == Memory::Device;
  switch (kind) {
    case cudaMemcpyHostToHost:
      return !to_device && !from_device;
    case cudaMemcpyHostToDevice:
      return to_device && !from_device;
    case cudaMemcpyDeviceToHost:
      return !to_device && from_device;
    case cudaMemcpyDeviceToDevice:
      return to_device && from_device;
    default:
      return true;  // cudaMemcpyDefault: the pointers say
  }
}

// cudaMemcpy and cudaMemcpyAsync, with CUDA's synchronization rules for each direction: a copy to pageable host memory
// has completed when the call returns; one from pageable host memory to the device copies the source at the call (it
// may be reused at once) and queues the rest; the synchronous form waits for everything but device-to-device copies.
cudaError_t copy(const char* api, void* destination, const void* source, size_t bytes, cudaMemcpyKind kind,
                 cudaStream_t handle, bool synchronous) {
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault) return cudaErrorInvalidMemcpyDirection;
  Stream* stream = find_stream(handle);
  if (!stream) return cudaErrorInvalidResourceHandle;
  if (bytes == 0) return cudaSuccess;
  Memory to = Memory::Pageable, from = Memory::Pageable;
  if (const cudaError_t status = classify(destination, bytes, to); status != cudaSuccess) return status;
  if (const cudaError_t status = classify(source, bytes, from); status != cudaSuccess) return status;
  if (!direction_matches(kind, to, from)) return cudaErrorInvalidValue;
  const bool host_only = to != Memory::Device && from != Memory::Device;
  const bool pageable = to == Memory::Pageable || from == Memory::Pageable;
  if (synchronous) {
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
  }
  if (stream->capture && !stream->capture->invalidated && (pageable || host_only)) {
    stream->capture->invalidated = true;  // a graph cannot replay a copy that involves pageable memory
    return cudaErrorStreamCaptureUnsupported;
  }
  Operation operation;
  operation.what = std::string(api) + " of " + std::to_string(bytes) + " bytes, " + memory_name(from) + " to " +
                   memory_name(to) + " memory";
  if (from == Memory::Pageable && to == Memory::Device) {
    auto staged =
        std::make_shared<std::vector<char>>(static_cast<const char*>(source), static_cast<const char*>(source) + bytes);
    operation.work = [destination, staged] { std::memcpy(destination, staged->data(), staged->size()); };
  } else {
    operation.work = [destination, source, bytes] { std::memmove(destination, source, bytes); };
  }
  uint64_t sequence = 0;
  if (const cudaError_t status = submit(handle, std::move(operation), &sequence); status != cudaSuccess) return status;
  const bool device_to_device = to == Memory::Device && from == Memory::Device;
  const bool wait = synchronous ? !device_to_device : host_only || (from == Memory::Device && to == Memory::Pageable);
  if (wait && sequence) run_through(*stream, sequence);
  return cudaSuccess;
}

// cudaMemset and cudaMemsetAsync: asynchronous for device memory (even the synchronous form, as CUDA documents),
// synchronous for the pinned host memory the synchronous form may also set.
cudaError_t fill(const char* api, void* destination, int value, size_t bytes, cudaStream_t handle, bool synchronous) {
  Stream* stream = find_stream(handle);
  if (!stream) return cudaErrorInvalidResourceHandle;
  if (bytes == 0) return cudaSuccess;
  Memory to = Memory::Pageable;
  if (const cudaError_t status = classify(destination, bytes, to); status != cudaSuccess) return status;
  if (to == Memory::Pageable) return cudaErrorInvalidValue;
  if (synchronous) {
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
  }
  Operation operation;
  operation.what = std::string(api) + " of " + std::to_string(bytes) + " bytes of " + memory_name(to) + " memory";
  operation.work = [destination, value, bytes] { std::memset(destination, value, bytes); };
  uint64_t sequence = 0;
  if (const cudaError_t status = submit(handle, std::move(operation), &sequence); status != cudaSuccess) return status;
  if (synchronous && to == Memory::Pinned && sequence) run_through(*stream, sequence);
  return cudaSuccess;
}

}  // namespace

extern "C" {

cudaError_t cudaMalloc(void** pointer, size_t bytes) {
  return api_call([&] {
    if (!pointer) return cudaErrorInvalidValue;
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
    *pointer = nullptr;
    if (bytes == 0) return cudaSuccess;
    *pointer = allocate_device(bytes);
    return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
  });
}

// cudaFree synchronizes the device first, as CUDA's does, so work queued before it that uses the block has run.
// Work that uses the block later (a graph captured with it, launched again) faults with a report naming the freed
// block: keeping a block alive while anything may still use it is the caller's duty, as on a GPU.
cudaError_t cudaFree(void* pointer) {
  return api_call([&] {
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
    if (!pointer) return cudaSuccess;
    run_everything();
    if (sticky_error() != cudaSuccess) return sticky_error();
    return free_device(pointer) ? cudaSuccess : cudaErrorInvalidValue;
  });
}

cudaError_t cudaMallocHost(void** pointer, size_t bytes) {
  return api_call([&] {
    if (!pointer) return cudaErrorInvalidValue;
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
    *pointer = nullptr;
    if (bytes == 0) return cudaSuccess;
    *pointer = allocate_pinned(bytes);
    return *pointer ? cudaSuccess : cudaErrorMemoryAllocation;
  });
}

cudaError_t cudaHostAlloc(void** pointer, size_t bytes, unsigned int /*flags: all mean plain pinned memory here*/) {
  return cudaMallocHost(pointer, bytes);
}

// Like cudaFree, synchronizes first: a copy still queued into the buffer would otherwise write freed memory.
cudaError_t cudaFreeHost(void* pointer) {
  return api_call([&] {
    if (const cudaError_t status = check_unsafe_call(); status != cudaSuccess) return status;
    if (!pointer) return cudaSuccess;
    run_everything();
    if (sticky_error() != cudaSuccess) return sticky_error();
    return free_pinned(pointer) ? cudaSuccess : cudaErrorInvalidValue;
  });
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  return api_call([&] {
    if (!free_bytes || !total_bytes) return cudaErrorInvalidValue;
    *total_bytes = kDeviceMemoryBytes;
    *free_bytes = kDeviceMemoryBytes - live_device_bytes();
    return cudaSuccess;
  });
}

cudaError_t cudaMemcpy(void* destination, const void* source, size_t bytes, cudaMemcpyKind kind) {
  return api_call([&] { return copy("cudaMemcpy", destination, source, bytes, kind, nullptr, true); });
}

cudaError_t cudaMemcpyAsync(void* destination, const void* source, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  return api_call([&] { return copy("cudaMemcpyAsync", destination, source, bytes, kind, stream, false); });
}

cudaError_t cudaMemset(void* destination, int value, size_t bytes) {
  return api_call([&] { return fill("cudaMemset", destination, value, bytes, nullptr, true); });
}

cudaError_t cudaMemsetAsync(void* destination, int value, size_t bytes, cudaStream_t stream) {
  return api_call([&] { return fill("cudaMemsetAsync", destination, value, bytes, stream, false); });
}

}  // extern "C"

}  // namespace loom::sim
