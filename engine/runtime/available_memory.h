// How much memory a device has free for loom to allocate, so that work too large for it can be refused up front with
// the figures (engine/model/training_memory.h) instead of failing by std::bad_alloc, the OOM killer or a CUDA error.
#pragma once

#include <cstdint>
#include <string>

#include "engine/runtime/device.h"

namespace loom {

struct AvailableMemory {
  double bytes = -1;  // negative: unknown (no /proc mounted), and nothing is refused for want of it
  std::string where;  // for messages: "the GPU (NVIDIA H100 80GB HBM3)", "the host (MemAvailable)"
};

// CUDA: the current device's free memory (cudaMemGetInfo). CPU: the kernel's estimate of what can be allocated
// without swapping (MemAvailable in /proc/meminfo), or less when a cgroup (a container's memory limit, this
// process's cgroup's or an enclosing one's; v2, or v1's memory controller) leaves less.
AvailableMemory available_memory(Device device);

// What a cgroup's limit leaves, from its files' text: memory.max (v1: limit_in_bytes), memory.current (v1:
// usage_in_bytes) and memory.stat, whose `cache_key` (inactive_file; v1: total_inactive_file) counts as free: that
// file cache fills a cgroup up to its limit and the kernel drops it for programs. Negative when there is no limit
// ("max") or the files are empty.
double cgroup_memory_left(const std::string& max, const std::string& current, const std::string& stat,
                          const std::string& cache_key);

// Bytes for messages, to one decimal: "64.9 GiB", "12.3 MiB" (below a GiB).
std::string memory_size_text(double bytes);

}  // namespace loom
