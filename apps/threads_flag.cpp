#include "apps/threads_flag.h"

#include "apps/number_flags.h"
#include "engine/runtime/errors.h"

namespace loom::apps {
namespace {

// Runs before any shared library's initialiser, so before OpenMP's runtime reads $OMP_NUM_THREADS and prints its own
// line about a bad value: loom's refusal is then the only one. Every program with --threads links this file.
void check_environment_early(int, char**, char** environment) {
  refuse_omp_num_threads(take_invalid_omp_num_threads(environment));
}
__attribute__((section(".preinit_array"),
               used)) void (*const check_environment_early_entry)(int, char**, char**) = check_environment_early;

}  // namespace

CLI::Option* add_threads_option(CLI::App& app, int& threads) {
  return add_whole_number_option(app, "--threads", threads, 1,
                                 "CPU: threads for the CPU path (default: $OMP_NUM_THREADS, then "
                                 "$OPENBLAS_NUM_THREADS, then every core)",
                                 kMaxCpuThreads)
      ->default_str("");
}

void check_threads_flag(int threads, const std::string& device_flag) {
  if (threads > 0 && device_flag == "cuda")
    throw UsageError("--threads sets the CPU path's threads: with --device cuda every op runs on the GPU");
}

CpuThreadChoice use_threads_flag(int threads, Device device, std::string* note) {
  if (device != Device::CPU) {
    if (threads > 0 && note) *note += std::string(note->empty() ? "" : "; ") + "--threads has no effect on the GPU";
    return {};
  }
  const CpuThreadChoice choice = threads > 0 ? CpuThreadChoice{threads, "--threads"} : default_cpu_threads();
  set_cpu_threads(choice.threads);
  return choice;
}

std::string threads_text(const CpuThreadChoice& choice) {
  return std::to_string(choice.threads) + (choice.threads == 1 ? " thread" : " threads") + " (" +
         (choice.source == "cores" ? std::string("every core") : choice.source) + ")";
}

}  // namespace loom::apps
