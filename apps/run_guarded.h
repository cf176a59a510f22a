// The exit-code convention of every loom program, in one place: bad usage (flags, a missing data set) exits 2, a
// runtime failure 1, each with one line on stderr. It needs nothing of the engine but its error types and its text
// checks (engine/io/file_text.h, the loom_text library), so a program that must start without cuBLAS or cuDNN
// (device_info) can use it too.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace loom::apps {

// Parses the flags, then runs `body`, turning failures into one line on stderr prefixed with the program name: exit 2
// for bad usage (flags, loom::UsageError), 1 for runtime failures, including a write to standard output that failed
// (apps/standard_output.h). --help prints usage and exits 0. Messages are printed through one_line.
int run_guarded(CLI::App& app, int argc, char** argv, const std::function<void()>& body);

}  // namespace loom::apps
