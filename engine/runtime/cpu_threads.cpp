#include "engine/runtime/cpu_threads.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/runtime/cpu_pool.h"
#include "engine/runtime/errors.h"

namespace loom {

namespace {

// $OMP_NUM_THREADS as take_invalid_omp_num_threads took it out of the environment, or null.
const char* hidden_omp_num_threads = nullptr;

// The thread count `text` asks for, by the rule below, or 0 when it breaks it (or is empty). No allocation: it also
// runs before any library is initialised (take_invalid_omp_num_threads).
int thread_count(const char* text, bool list) {
  // Blanks around the number, as OpenMP's runtime allows them; an $OMP_NUM_THREADS list's first entry counts.
  const char* end = text;
  while (*end != '\0' && !(list && *end == ',')) ++end;
  while (text < end && (*text == ' ' || *text == '\t')) ++text;
  while (end > text && (end[-1] == ' ' || end[-1] == '\t')) --end;
  if (end == text || end - text > 9) return 0;
  long long count = 0;
  for (const char* c = text; c < end; ++c) {
    if (*c < '0' || *c > '9') return 0;
    count = count * 10 + (*c - '0');
  }
  return count >= 1 && count <= kMaxCpuThreads ? static_cast<int>(count) : 0;
}

// The count a variable asks for; 0 when it is unset or empty.
int count_from_environment(const char* name) {
  const bool omp = std::string(name) == "OMP_NUM_THREADS";
  const char* value = omp && hidden_omp_num_threads ? hidden_omp_num_threads : std::getenv(name);
  if (!value || !*value) return 0;
  const int count = thread_count(value, omp);
  if (count == 0)
    throw UsageError("$" + std::string(name) + " must be a whole number of threads from 1 to " +
                     std::to_string(kMaxCpuThreads) + ", got '" + value + "'");
  return count;
}

}  // namespace

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  // A fixed cpu_set_t holds 1,024 CPUs; on a larger machine the call fails and the online count stands in.
  if (sched_getaffinity(0, sizeof(set), &set) != 0)
    return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const int count = CPU_COUNT(&set);
  return count > 0 ? count : 1;
}

CpuThreadChoice default_cpu_threads() {
  for (const char* name : {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"})
    if (int count = count_from_environment(name)) return {count, "$" + std::string(name)};
  return {usable_cores(), "cores"};
}

void set_cpu_threads(int threads) { cpu::set_pool_threads(threads); }

int cpu_threads() { return cpu::pool_threads(); }

const char* take_invalid_omp_num_threads(char** environment) {
  if (environment == nullptr) return nullptr;
  constexpr char kName[] = "OMP_NUM_THREADS=";
  for (char** entry = environment; *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, kName, sizeof kName - 1) != 0) continue;
    const char* value = *entry + sizeof kName - 1;
    if (*value == '\0' || thread_count(value, true) != 0) return nullptr;
    // Out of the array itself, which is the one getenv reads: the later entries move up, the null end included.
    for (char** rest = entry; *rest != nullptr; ++rest) rest[0] = rest[1];
    return value;
  }
  return nullptr;
}

void refuse_omp_num_threads(const char* value) { hidden_omp_num_threads = value; }

}  // namespace loom
