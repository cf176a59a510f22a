// The host's memory pages, which the simulator's guard pages (after device blocks and under fiber stacks) and its
// check of host memory are made of.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdio>

namespace loom::sim {

inline size_t page_bytes() {
  static const size_t bytes = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return bytes;
}

// The memory the host can still give without swapping (/proc/meminfo's MemAvailable, which counts the page cache the
// kernel would drop, unlike sysconf's free pages); the largest size_t where it cannot be read.
inline size_t available_host_bytes() {
  size_t kib = 0;
  if (std::FILE* meminfo = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, meminfo))
      if (std::sscanf(line, "MemAvailable: %zu kB", &kib) == 1) break;
    std::fclose(meminfo);
  }
  return kib > 0 ? kib * 1024 : ~size_t(0);
}

}  // namespace loom::sim
