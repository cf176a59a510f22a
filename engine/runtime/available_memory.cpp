#include "engine/runtime/available_memory.h"

#include <cuda_runtime.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

// MemAvailable from /proc/meminfo, in bytes; negative when it cannot be read.
double host_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return -1;
}

// What a cgroup v2 memory limit (memory.max less memory.current) leaves; negative when there is no limit.
double cgroup_left_bytes() {
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  double current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(current_file >> current)) return -1;
  double max = 0;
  std::istringstream(max_text) >> max;
  return max > current ? max - current : 0;
}

}  // namespace

AvailableMemory available_memory(Device device) {
  AvailableMemory result;
  if (device == Device::CUDA) {
    size_t free_bytes = 0, total_bytes = 0;
    LOOM_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    result.bytes = static_cast<double>(free_bytes);
    result.where =
        "the GPU (" + probe_cuda().gpu_name + ", " + memory_size_text(static_cast<double>(total_bytes)) + " in all)";
    return result;
  }
  const double host = host_available_bytes();
  const double cgroup = cgroup_left_bytes();
  if (host < 0 && cgroup < 0) throw Error("cannot tell how much memory is available: /proc/meminfo is unreadable");
  if (cgroup >= 0 && (host < 0 || cgroup < host)) {
    result.bytes = cgroup;
    result.where = "this container's memory limit (cgroup memory.max)";
  } else {
    result.bytes = host;
    result.where = "the host (MemAvailable)";
  }
  return result;
}

std::string memory_size_text(double bytes) {
  constexpr double kMiB = 1024.0 * 1024.0, kGiB = 1024.0 * kMiB;
  char text[32];
  if (bytes >= kGiB)
    std::snprintf(text, sizeof text, "%.1f GiB", bytes / kGiB);
  else
    std::snprintf(text, sizeof text, "%.1f MiB", bytes / kMiB);
  return text;
}

}  // namespace loom
