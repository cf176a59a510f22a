// What loom's fuzz targets share: the rule for what counts as a finding, a private file for readers that only take
// a path, and the small training run whose checkpoint and weights seed the checkpoint and model-file targets (the
// targets load into the same model, so a seed passes every check and the fuzzer starts deep inside the reader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/model/sequential.h"
#include "engine/runtime/errors.h"
#include "engine/training/callback.h"
#include "engine/training/callbacks.h"
#include "engine/training/checkpoint.h"
#include "engine/training/lr_schedules.h"

namespace loom::fuzz {

// Runs `read`; a loom::Error (UsageError included) is a reader's expected answer to a damaged file. Anything else
// escapes: another exception ends the process (libFuzzer reports it as a crash), as do crashes and sanitizer reports.
template <class Read>
void expect_loom_errors(Read read) {
  try {
    read();
  } catch (const Error&) {
  }
}

// Stops the run with `what` when `condition` is false: an answer the reader gave that contradicts its own contract.
void check(bool condition, const std::string& what);

std::string bytes_of(const uint8_t* data, size_t size);

// The bytes as a safetensors file, or nothing when SafetensorsFile::parse refuses them: the readers of saved models
// and checkpoints parse a file with it first, so they would refuse such bytes the same way.
std::optional<loom::SafetensorsFile> parsed_safetensors(const std::string& bytes);

// One file, rewritten for every input, for readers that take only a path: in a private folder under $TMPDIR (or
// /tmp), named "input<extension>" (the history reader tells CSV from JSON by the name), removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& extension = "");
  ~ScratchFile();
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  // Replaces the file's contents with `bytes` and returns its path.
  const std::string& write(const std::string& bytes) const;
  const std::string& path() const { return path_; }

 private:
  std::string folder_, path_;
};

// The model of the seed run, on the CPU: Flatten → Dense(4, relu) → Dense(10) on 4x4 images, Adam.
std::unique_ptr<Sequential> make_model();

// The callbacks whose state a checkpoint of the seed run holds, made as a run makes them.
struct RunCallbacks {
  RunCallbacks();
  EarlyStopping early_stopping;
  ReduceLROnPlateau plateau;
  std::vector<Callback*> list() { return {&early_stopping, &plateau}; }
};

// The settings the seed run's checkpoint records (a resumed run must have the same).
RunSettings run_settings();

}  // namespace loom::fuzz
