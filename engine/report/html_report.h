// The report a person reads after training: one self-contained HTML file (styles, charts and pictures inline; no
// script, no network) with what the Keras tutorials show as pictures, for one run or several side by side:
//   data         the first 25 training images with their class names, and the first enlarged with a colour scale
//   curves       loss and accuracy per epoch, training and validation, every run in the same two charts
//   epochs       the per-epoch figures of every run in one table
//   accuracy     final training, validation and test accuracy, and the overfitting gap in words
//   confusion    the test set's confusion matrix with per-class accuracy, per run
//   predictions  the first 15 test images with their probability bars (predicted red, true blue), per run
//   mistakes     the most confident wrong predictions, per run
//   model        the model summary and the run's settings (flags, device, epoch times), per run
// Each is a <section> with that id. Every string from the user or a file is escaped.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/data/labeled_images.h"
#include "engine/runtime/tensor.h"
#include "engine/training/fit_options.h"

namespace loom::report {

// One trained model as the report shows it.
struct ReportRun {
  std::string name;     // "MLP", a file's stem, ...: names the run in legends, tables and headings
  std::string summary;  // the model's Keras summary text
  std::vector<std::pair<std::string, std::string>> settings;  // shown in this order: flags, device, files, ...
  History history;  // the epochs trained (may be empty: the report then says there is no history)
  // The epoch (index into history) whose weights were evaluated, when not the last: the best one, restored by
  // early stopping. -1: the last.
  int weights_epoch = -1;
  Evaluation test;            // loss and accuracy on the test set
  Tensor test_probabilities;  // float [test images, classes] on the CPU
};

struct Report {
  std::string title = "loom training report";
  // Images uint8 [n, rows, columns] or [n, rows, columns, 1], as the MLP and the CNN take them.
  const LabeledImages* train = nullptr;  // the training set, for the preview (its first 25 images)
  const LabeledImages* test = nullptr;   // the test set the runs' probabilities are of
  std::vector<std::string> class_names;  // one per class
  std::vector<ReportRun> runs;           // at least one
};

// How a saved file's run description (engine/model/model_file.h) says that early stopping restored the best epoch's
// weights: ("weights from epoch", "3 (the best, restored by early stopping)"), epochs counted from 1. The report app
// reads it back with weights_epoch_from.
constexpr const char* kWeightsEpochKey = "weights from epoch";
std::string weights_epoch_text(int epoch_index);
// The 0-based epoch of a run description's kWeightsEpochKey entry; -1 when there is none or it is not one loom wrote.
int weights_epoch_from(const std::vector<std::pair<std::string, std::string>>& description);
// Entries of a --save file's run description beside the flags: how many epochs its run trained, and the last one's
// loss, so that `report` can tell the run's own history file from another run's.
constexpr const char* kEpochsTrainedKey = "epochs run";
constexpr const char* kFinalLossKey = "last epoch's loss";

// The report as HTML text. A loom::Error when the report is incomplete or inconsistent (no run, no data, images
// not gray uint8, probabilities not [test images, classes], class names not one per class).
std::string report_html(const Report& report);

// Checks, before a run, that a report could be written to `path` at its end: the name ends in .html or .htm, and
// its folder exists and may be written. A loom::UsageError naming the file otherwise.
void check_report_path(const std::string& path);

// Writes report_html(report) to `path` atomically (temporary file, then rename): a failed write leaves any earlier
// file as it was and is a loom::Error "cannot write '<path>': <reason>".
void write_report(const std::string& path, const Report& report);

}  // namespace loom::report
