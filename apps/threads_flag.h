// --threads N, for every program that may run on the CPU: how many threads the CPU path's loops and matrix products
// run on (engine/runtime/cpu_threads.h).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/device.h"

namespace loom::apps {

// `threads` stays 0 when the flag is not given.
CLI::Option* add_threads_option(CLI::App& app, int& threads);

// Before the device is resolved: --threads with --device cuda is refused (every op runs on the GPU there).
void check_threads_flag(int threads, const std::string& device_flag);

// Once the device is known, before any op runs. On the CPU: sets the count from --threads, else $OMP_NUM_THREADS,
// $OPENBLAS_NUM_THREADS, the cores (a bad variable is a UsageError naming it), and returns it with what chose it. On
// the GPU: nothing is set; when --threads was given (under --device auto), *note says it has no effect there.
CpuThreadChoice use_threads_flag(int threads, Device device, std::string* note);

// "2 threads (every core)", "1 thread (--threads)": for run descriptions and notes.
std::string threads_text(const CpuThreadChoice& choice);

}  // namespace loom::apps
