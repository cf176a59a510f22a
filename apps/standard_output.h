// Standard output as a place results go, not a place they may silently vanish: `train_mlp > /dev/full`, a full disk
// under `train_cnn > log`, or a closed stdout (`train_mlp >&-`) must fail with one line on stderr and exit 1, as soon
// as the first write fails, not train to the end and exit 0 with everything printed lost.
#pragma once

namespace loom::apps {

// Call first thing in main (run_guarded does): a closed standard input, output or error is reopened on /dev/null,
// read-only, so that no file the program opens later can become fd 1 and receive its printing, and so that writes to
// a closed stdout fail (and are reported) rather than land somewhere.
void guard_standard_streams();

// Flushes std::cout and stdout and throws loom::Error "cannot write to standard output: <reason>" if any write to
// them has failed since the program started. Called after the model summary, after every epoch and at exit.
void check_standard_output();

}  // namespace loom::apps
