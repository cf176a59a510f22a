// How many threads the CPU path runs on. Its loops and its matrix products share one pool, loom's own
// (engine/runtime/cpu_pool.h), so one number sets both. Programs choose it once, before the first CPU op:
//   --threads N  >  $OMP_NUM_THREADS  >  $OPENBLAS_NUM_THREADS  >  the cores this process may run on.
// A library user who sets nothing gets the same order without the flag (a variable that is not a count is passed
// over). The pool may run a job on fewer threads than this while it finds its cores shared with other programs.
#pragma once

#include <string>

namespace loom {

// More threads than this is a typo, not a machine.
constexpr int kMaxCpuThreads = 1024;

struct CpuThreadChoice {
  int threads = 1;
  std::string source;  // for messages: "--threads", "$OMP_NUM_THREADS", "$OPENBLAS_NUM_THREADS", "cores"
};

// The count the environment or the machine chooses, when no flag does. A variable that is set but not a whole number
// from 1 to kMaxCpuThreads is refused (loom::UsageError naming it and quoting its value); an empty one counts as
// unset. $OMP_NUM_THREADS may be a list (one count per nesting level): its first entry is the count.
CpuThreadChoice default_cpu_threads();

// The cores this process may run on (its CPU affinity mask; 1 if that cannot be read).
int usable_cores();

// Every later CPU op, BLAS included, runs on at most `threads` threads (1 to kMaxCpuThreads, else loom::UsageError).
void set_cpu_threads(int threads);

// The count CPU ops run on at most.
int cpu_threads();

// OpenMP's runtime reads $OMP_NUM_THREADS when it is loaded, before main, and prints its own complaint about a bad
// value. So programs call these from their .preinit_array (apps/threads_flag.cpp), which runs before any library is
// initialised: the first takes a value default_cpu_threads would refuse out of `environment` (the process's envp, the
// array getenv reads) and returns it (null when there is none, or it is fine); the second hands it to
// default_cpu_threads, which then refuses it by name as if it were still set (null: read the environment again).
// Neither allocates.
const char* take_invalid_omp_num_threads(char** environment);
void refuse_omp_num_threads(const char* value);

}  // namespace loom
