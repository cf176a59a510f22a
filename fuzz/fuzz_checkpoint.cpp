// The checkpoint reader (engine/training/checkpoint.h) on any bytes, both ways the programs read one:
//   - checkpoint_history on a file already read (the report app): the training state's JSON and the history in it;
//   - resume_from_checkpoint on a path (train_mlp --resume): the model-file checks, the architecture against the
//     seed run's model, the settings, the callbacks' state, every tensor's name, dtype and shape.
// The seeds are checkpoints of that run (make_seeds), so mutations start from files that pass every check.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "engine/io/safetensors.h"
#include "engine/training/checkpoint.h"
#include "engine/training/trainer.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace loom;

struct Resume {
  std::unique_ptr<Sequential> model = fuzz::make_model();
  Trainer trainer{*model};
  fuzz::RunCallbacks callbacks;
  fuzz::ScratchFile file{".safetensors"};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Resume resume;
  const std::string bytes = fuzz::bytes_of(data, size);
  const std::optional<SafetensorsFile> file = fuzz::parsed_safetensors(bytes);
  if (!file) return 0;
  fuzz::expect_loom_errors([&] {
    const History history = checkpoint_history(*file);
    fuzz::check(!history.empty(), "a checkpoint's history has no epoch");
  });
  fuzz::expect_loom_errors([&] {
    const ResumePoint point =
        resume_from_checkpoint(resume.file.write(bytes), resume.trainer, resume.callbacks.list(), fuzz::run_settings());
    fuzz::check(point.epochs_done >= 1 && point.history.size() == static_cast<size_t>(point.epochs_done),
                "resumed after " + std::to_string(point.epochs_done) + " epochs with a history of " +
                    std::to_string(point.history.size()));
  });
  return 0;
}
