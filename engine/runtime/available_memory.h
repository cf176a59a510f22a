// How much memory a device has free for loom to allocate, so that work too large for it can be refused up front with
// the figures (engine/model/training_memory.h) instead of failing by std::bad_alloc, the OOM killer or a CUDA error.
#pragma once

#include <cstdint>
#include <string>

#include "engine/runtime/device.h"

namespace loom {

struct AvailableMemory {
  double bytes = 0;
  std::string where;  // for messages: "the GPU (NVIDIA H100 80GB HBM3)", "the host (MemAvailable)"
};

// CUDA: the current device's free memory (cudaMemGetInfo). CPU: the kernel's estimate of what can be allocated
// without swapping (MemAvailable in /proc/meminfo), or less when a cgroup (a container's memory limit) leaves less.
// A loom::Error when neither can be read.
AvailableMemory available_memory(Device device);

// Bytes for messages, to one decimal: "64.9 GiB", "12.3 MiB" (below a GiB).
std::string memory_size_text(double bytes);

}  // namespace loom
