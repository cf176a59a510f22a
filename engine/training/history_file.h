// fit's History saved and loaded in the layouts Keras users already read: CSVLogger's CSV and History.history's
// JSON, so plots and notebooks written for Keras runs take loom's runs unchanged.
#pragma once

#include <string>

#include "engine/training/callback.h"
#include "engine/training/fit_options.h"

namespace loom {

// Writes `history` to `path` (atomically: a failed write leaves any previous file intact), the layout chosen by the
// extension:
//   .csv   header `epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds`, one row per epoch, epoch
//          counted from 0 as Keras's CSVLogger does; the val_ columns appear only when some epoch was validated,
//          and are left empty for the epochs that were not; learning_rate and seconds likewise, NaN standing for
//          "not recorded" (a history read from a Keras file), except that an empty history keeps them in its header.
//   .json  {"epoch": [0, 1, ...], "accuracy": [...], "loss": [...], "val_accuracy": [...], "val_loss": [...],
//          "learning_rate": [...], "seconds": [...]}; keys as for CSV, null for the epochs that did not record one.
// Numbers are written in the shortest form that reads back to the same double. JSON has no NaN or infinity, so
// those are written as the strings "NaN", "Infinity" and "-Infinity" (Python's spellings); CSV writes nan, inf, -inf.
// Any other extension is a loom::UsageError; a failed write is a loom::Error.
void write_history(const History& history, const std::string& path);

// True for a .csv history, false for .json; a loom::UsageError naming the file for any other extension.
bool is_csv(const std::string& path);

// Checks, before a run, that write_history could write `path` at its end: the extension, and a folder that exists
// and may be written. A loom::UsageError naming the file otherwise.
void check_history_path(const std::string& path);

// The JSON layout above as text, and back (`source` stands for the file in messages): checkpoints keep the history
// so far this way in their metadata.
std::string history_json(const History& history);
History history_from_json(const std::string& text, const std::string& source);

// Keras's CSVLogger as a callback: after every epoch the history so far is written to `path` (atomically), so a
// run that stops early, fails or is killed keeps the epochs it trained. The path is checked when it is made.
class HistoryLogger : public Callback {
 public:
  // `earlier`: the epochs of the run a resumed run continues, written before its own.
  explicit HistoryLogger(std::string path, History earlier = {});
  void on_train_begin(FitContext&) override { history_ = earlier_; }
  void on_epoch_end(FitContext&, int, EpochResult& logs) override;

 private:
  std::string path_;
  History earlier_, history_;
};

// Reads a file written by write_history, by Keras's CSVLogger (`epoch,accuracy,loss,val_accuracy,val_loss`, with
// `learning_rate`, or tf.keras's `lr`, when a schedule logged it; "NA" for a figure an epoch did not log) or by
// json.dump(History.history) (the same keys without "epoch"; the lists count epochs from 0) back: loss, accuracy,
// validated, val_loss, val_accuracy, learning_rate and seconds; the other EpochResult fields keep their defaults.
// learning_rate and seconds are optional, NaN where not recorded. Columns or keys may come in any order; no others
// are taken. Every figure is checked: loss and val_loss finite and >= 0, accuracy and val_accuracy in [0, 1],
// learning_rate finite and > 0, seconds finite and >= 0. Every problem with the file (unreadable, malformed, unknown
// or missing columns, epochs not 0, 1, 2, ... in order, a figure out of its range, named with its epoch and column)
// is a loom::Error naming the file; a bad extension, or a path that names no file or a directory, FIFO or device,
// is a loom::UsageError (engine/io/input_file.h). history_from_json makes the same checks.
History read_history(const std::string& path);

}  // namespace loom
