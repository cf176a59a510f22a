#include "engine/runtime/available_memory.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <sstream>

#include "engine/runtime/cuda_memory.h"

namespace loom {
namespace {

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

// The number after `key` in "key value" lines (/proc/meminfo, a cgroup's memory.stat); negative when absent.
double keyed_value(const std::string& text, const std::string& key) {
  std::istringstream lines(text);
  std::string name;
  double value = 0;
  while (lines >> name >> value) {
    if (name == key) return value;
    lines.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return -1;
}

double number_in(const std::string& text) {
  double value = -1;
  std::istringstream(text) >> value;
  return value;
}

// The cgroup this process is in, as a path under the cgroup v2 mount ("/" in a container with its own namespace).
std::string own_cgroup_v2() {
  std::istringstream lines(file_text("/proc/self/cgroup"));
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  return "/";
}

}  // namespace

double cgroup_memory_left(const std::string& max, const std::string& current, const std::string& stat,
                          const std::string& cache_key) {
  if (max.empty() || max.rfind("max", 0) == 0 || current.empty()) return -1;
  const double limit = number_in(max), used = number_in(current);
  if (limit < 0 || used < 0) return -1;
  // File cache fills a cgroup up to its limit and is dropped when programs need the memory.
  const double cache = std::max(0.0, keyed_value(stat, cache_key));
  return std::max(0.0, limit - std::max(0.0, used - cache));
}

AvailableMemory available_memory(Device device) {
  AvailableMemory result;
  if (device == Device::CUDA) {
    size_t free_bytes = 0, total_bytes = 0;
    cuda_memory::device_memory(free_bytes, total_bytes);
    result.bytes = static_cast<double>(free_bytes);
    result.where =
        "the GPU (" + probe_cuda().gpu_name + ", " + memory_size_text(static_cast<double>(total_bytes)) + " in all)";
    return result;
  }
  const double kib = keyed_value(file_text("/proc/meminfo"), "MemAvailable:");
  if (kib >= 0) {
    result.bytes = kib * 1024;
    result.where = "the host (MemAvailable)";
  }
  // A container's limit: this cgroup's or any enclosing one's (cgroup v2), or the v1 memory controller's.
  std::string group = own_cgroup_v2();
  for (;;) {
    const std::string dir = "/sys/fs/cgroup" + (group == "/" ? std::string() : group);
    const double left = cgroup_memory_left(file_text(dir + "/memory.max"), file_text(dir + "/memory.current"),
                                           file_text(dir + "/memory.stat"), "inactive_file");
    if (left >= 0 && (result.bytes < 0 || left < result.bytes)) {
      result.bytes = left;
      result.where = "this container's memory limit (cgroup memory.max)";
    }
    if (group == "/" || group.empty()) break;
    group = group.substr(0, group.rfind('/'));
    if (group.empty()) group = "/";
  }
  const std::string v1 = "/sys/fs/cgroup/memory/";
  const double v1_left =
      cgroup_memory_left(file_text(v1 + "memory.limit_in_bytes"), file_text(v1 + "memory.usage_in_bytes"),
                         file_text(v1 + "memory.stat"), "total_inactive_file");
  // v1 reports "no limit" as a huge number, never less than what the host has.
  if (v1_left >= 0 && (result.bytes < 0 || v1_left < result.bytes)) {
    result.bytes = v1_left;
    result.where = "this container's memory limit (cgroup memory.limit_in_bytes)";
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
