#include "engine/runtime/cpu_threads.h"

#include <sched.h>

#include <algorithm>
#include <cstdlib>

#include <omp.h>

#include "engine/runtime/errors.h"

namespace loom {

namespace {

// The count a variable asks for; 0 when it is unset or empty.
int count_from_environment(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return 0;
  std::string text(value);
  if (std::string(name) == "OMP_NUM_THREADS") text = text.substr(0, text.find(','));
  // Blanks around the number, as OpenMP's runtime allows them.
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  long long count = 0;
  bool digits = !text.empty() && text.size() <= 9;
  for (char c : text) {
    digits = digits && c >= '0' && c <= '9';
    if (digits) count = count * 10 + (c - '0');
  }
  if (!digits || count < 1 || count > kMaxCpuThreads)
    throw UsageError("$" + std::string(name) + " must be a whole number of threads from 1 to " +
                     std::to_string(kMaxCpuThreads) + ", got '" + value + "'");
  return static_cast<int>(count);
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  // A fixed cpu_set_t holds 1,024 CPUs; on a larger machine the call fails and OpenMP's own count stands in.
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::max(1, omp_get_num_procs());
  const int count = CPU_COUNT(&set);
  return count > 0 ? count : 1;
}

CpuThreadChoice default_cpu_threads() {
  for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"})
    if (int count = count_from_environment(name)) return {count, "$" + std::string(name)};
  return {usable_cores(), "cores"};
}

void set_cpu_threads(int threads) {
  if (threads < 1 || threads > kMaxCpuThreads)
    throw UsageError("CPU threads must be from 1 to " + std::to_string(kMaxCpuThreads) + ", got " +
                     std::to_string(threads));
  // OpenBLAS's OpenMP build sizes every product by omp_get_max_threads(), so this sets its count too.
  omp_set_num_threads(threads);
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace loom
