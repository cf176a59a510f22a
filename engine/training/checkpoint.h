// Checkpoints: everything a training run needs to go on exactly where it stood after an epoch, in one safetensors
// file of the saved-model format (engine/model/model_file.h, content "checkpoint"), as llm.c's checkpoints and
// Keras's BackupAndRestore do. Beside the parameters it holds
//   tensors   the optimizer's per-parameter state as "<parameter>.<slot>" (Adam: "dense.kernel.adam_m",
//             "dense.kernel.adam_v"), in Keras's layouts; a callback's saved weights as "<parameter>.<callback>"
//             (EarlyStopping's best: "dense.kernel.early_stopping")
//   metadata  "training": JSON text with the epochs done, whether a callback stopped the run, the history so far,
//             the shuffle generator's state, the step state (steps done, learning rate), the optimizer's step
//             count, each callback's numbers, and the settings the caller asks to stay the same on resume.
// Resuming from the end of epoch k and training to epoch n gives parameters bit-identical to training to n in one
// go, provided the run is set up the same way (the settings and the callbacks are checked); on the GPU, as far as
// the kernels are deterministic (see docs/CHECKPOINTS.md).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/model/model_file.h"
#include "engine/training/callback.h"
#include "engine/training/fit_options.h"

namespace loom {

class Trainer;

// Settings a resumed run must share with the run it continues ("--batch-size" → "32"): a caller's choice of
// names, compared as text.
using RunSettings = std::map<std::string, std::string>;

// Writes the checkpoint after every epoch, atomically (a failed write is a loom::Error and leaves the previous
// checkpoint intact). Add it after the callbacks whose state it saves. `earlier`: the history of the run a resumed
// run continues, so the file always holds the whole history. An epoch whose loss is NaN or infinite (the run
// diverged) is not written: the last good epoch's checkpoint stays to resume from.
class CheckpointWriter : public Callback {
 public:
  // `run`: how the run was made, for people (engine/model/model_file.h).
  CheckpointWriter(std::string path, RunSettings settings, History earlier = {}, RunDescription run = {});
  void on_train_begin(FitContext&) override { history_ = earlier_; }
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;

 private:
  std::string path_;
  RunSettings settings_;
  History earlier_, history_;
  RunDescription run_;
};

// Where a checkpoint left its run.
struct ResumePoint {
  int epochs_done = 0;
  History history;            // every epoch trained so far
  std::string shuffle_state;  // for FitOptions::shuffle_state
};

// Loads the checkpoint at `path` into the trainer's model (parameters, optimizer state), into the trainer (its step
// state: steps done, learning rate) and into `callbacks` (the run's, each restored by its state_name), and says
// where to go on from: pass epochs_done as FitOptions::initial_epoch and shuffle_state as FitOptions::shuffle_state
// to the trainer's fit. Refused with a loom::UsageError naming the difference: another architecture, other settings,
// callbacks with state that the checkpoint lacks or the other way round, a run that a callback had stopped. A corrupt
// file is a loom::Error naming it, and so is one holding a value no run writes (a NaN weight or moment, a negative
// second moment, a count or rate out of reach of the epochs and steps done: docs/CHECKPOINTS.md lists them).
ResumePoint resume_from_checkpoint(const std::string& path, Trainer& trainer, const std::vector<Callback*>& callbacks,
                                   const RunSettings& settings);

// Writes the checkpoint of `context`'s run after `history.size()` epochs (used by CheckpointWriter).
void save_checkpoint(const std::string& path, FitContext& context, const History& history, const RunSettings& settings,
                     const RunDescription& run = {});

// The history a checkpoint file holds (every epoch its run trained); a loom::Error naming the file when its training
// state is malformed.
History checkpoint_history(const SafetensorsFile& file);

// Which weights a checkpoint holds: those of the last epoch trained. A run with early stopping that restores the best
// weights ends with (prints, evaluates, saves with --save) the best epoch's instead, which the checkpoint keeps apart
// to resume with. Epochs counted from 1; best is 0 when the run keeps no best weights (or none yet). A loom::Error
// naming the file when its training state is malformed.
struct CheckpointEpochs {
  int last = 0;
  int best = 0;
};
CheckpointEpochs checkpoint_epochs(const SafetensorsFile& file);

}  // namespace loom
