// What fit is asked to do and what it reports: Keras's fit arguments and its History, one entry per epoch.
#pragma once

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "engine/data/labeled_images.h"
#include "kernels/gather_batch.h"

namespace loom {

class Callback;

// When fit's progress bar redraws in place with the running loss and accuracy (read from the GPU through a
// snapshot that never stalls it) instead of printing only each epoch's final line.
enum class LiveProgress {
  WhenTerminal,  // when `out` is std::cout and stdout is a terminal
  Always,        // whatever `out` is (tests run the GPU snapshot path this way)
  Never,
};

struct FitOptions {
  int epochs = 1;
  // Keras's initial_epoch: the epochs trained are initial_epoch .. epochs - 1 (a resumed run's callbacks and
  // schedules see the epoch numbers of the run it continues).
  int initial_epoch = 0;
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;
  // Not empty: the training set's shuffle generator continues from this state (DeviceDataset::shuffle_state, saved
  // by a checkpoint) instead of starting from `seed`.
  std::string shuffle_state;
  int verbose = 1;  // 0 silent, 1 progress bar per epoch
  std::ostream* out = &std::cout;
  LiveProgress live_progress = LiveProgress::WhenTerminal;  // with verbose 0 there is no bar at all
  int64_t max_steps_per_epoch = 0;                          // 0: the whole data set each epoch (tests use a few steps)
  // On the GPU, capture the training step once as a CUDA graph and replay it for every full batch (the last,
  // partial batch of an epoch runs as ordinary launches). Off: every step is ordinary launches. If capture fails,
  // fit says so once on stderr and trains with ordinary launches; EpochResult::graph_steps tells which happened.
  bool cuda_graph = true;

  // Keras's validation_split: the last fraction of the samples, taken before any shuffling, is held out and
  // evaluated after every epoch. 0 ≤ split < 1; ignored when validation_data is given.
  double validation_split = 0;
  const LabeledImages* validation_data = nullptr;  // evaluated after every epoch; must outlive fit
  // Random shifts and flips of the training batches (kernels/gather_batch.h), drawn from the model's seed and the
  // step count; never applied to validation. Images (height, width[, channels]) only.
  Augmentation augmentation;
  // Called at Keras's hooks, in this order, after fit's own progress bar; owned by the caller.
  std::vector<Callback*> callbacks;
  // Stop at the first non-finite running loss and fail with loom::Error saying so (a Keras run would go on
  // producing NaN). Off: the epoch's NaN loss is reported like any other (add TerminateOnNaN to stop quietly).
  bool stop_on_nan = true;
};

// One epoch of Keras's History, plus loom's timing.
struct EpochResult {
  double loss = 0;
  double accuracy = 0;
  bool validated = false;  // val_loss and val_accuracy hold the held-out data's figures
  double val_loss = 0;
  double val_accuracy = 0;
  // NaN in the next two: not recorded (a history read from a file without them, such as Keras's CSVLogger's).
  double learning_rate = 0;        // the rate the epoch's steps used
  double seconds = 0;              // host wall clock, the epoch's final synchronization included (validation not)
  double device_ms = 0;            // GPU only: CUDA-event time of the epoch's steps (the order's upload excluded)
  size_t device_bytes_in_use = 0;  // GPU memory held by loom's buffers at the epoch's end
  int64_t graph_steps = 0;         // steps that were replays of the captured CUDA graph (0: ordinary launches only)
};

// Keras's validation_split: the first floor(samples · (1 − fraction)) samples train, the rest are held out.
int64_t validation_split_point(int64_t samples, double fraction);
// Empty when the split leaves samples on both sides; else what is wrong, e.g. "0.999 of 100 samples leaves none to
// train on" (fit and the apps put the option's or the flag's name in front).
std::string validation_split_problem(int64_t samples, double fraction);

// What fit returns: one EpochResult per epoch trained (fewer than asked when a callback stopped training).
using History = std::vector<EpochResult>;

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  double seconds = 0;
};

}  // namespace loom
