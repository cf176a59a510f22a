// What train_mlp and train_cnn share: the common flags, their checks, error reporting with exit codes, and the
// train → evaluate → predict report the tutorials print.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "apps/run_guarded.h"
#include "engine/data/fashion_mnist.h"
#include "engine/model/sequential.h"
#include "engine/runtime/device.h"

namespace loom::apps {

// Widths beyond this are typos, not models: refused with the flag's name rather than failing an allocation.
constexpr int64_t kMaxLayerWidth = 65536;
// Shifts must leave part of a 28x28 image in view.
constexpr int64_t kMaxRandomShift = 27;

struct TrainingFlags {
  std::string preset;  // train_cnn's --preset (empty for programs without one): shown with the run's settings
  std::string data;    // empty: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist
  int epochs = 10;
  int64_t batch_size = 32;
  int64_t steps_per_epoch = 0;  // Keras's steps_per_epoch: at most this many batches an epoch; 0: the whole set
  float learning_rate = 1e-3f;
  uint64_t seed = 0;
  std::string device = "auto";
  bool tf32 = false;            // GPU only: TF32 tensor cores for cuBLAS and cuDNN
  bool no_graph = false;        // GPU only: ordinary launches instead of replaying a captured CUDA graph per step
  int threads = 0;              // CPU only: the CPU path's threads; 0: $OMP_NUM_THREADS, $OPENBLAS_NUM_THREADS, cores
  double validation_split = 0;  // the last fraction of the training set, held out and evaluated every epoch
  bool no_shuffle = false;      // --no-shuffle: every epoch takes the training set in its order (Keras's shuffle=False)
  bool validation_data_given = false;  // --validation-data test: the test set evaluated every epoch
  std::string validation_data;
  bool stop_at_loss_given = false;  // --stop-at-loss X: stop after the first epoch whose loss is at most X
  double stop_at_loss = 0;
  bool early_stopping_given = false;  // --early-stopping N: Keras's EarlyStopping, patience N, best weights restored
  int early_stopping = 0;
  std::string lr_schedule = "constant";
  int64_t random_shift = 0;  // --random-shift N: training images shifted by up to N pixels each way
  bool random_flip = false;  // --random-flip: training images mirrored left to right, one in two
  std::string history;       // --history FILE: the per-epoch figures as .csv or .json
  std::string save;          // --save FILE: the weights after training (the restored best, if early stopping)
  std::string checkpoint;    // --checkpoint FILE: everything needed to resume, after every epoch
  std::string resume;        // --resume FILE: go on with the run a checkpoint holds
  std::string load;          // --load FILE: start from saved weights instead of the initialisation
  std::string report;        // --report FILE.html: the HTML report (engine/report/html_report.h)
};

void add_training_flags(CLI::App& app, TrainingFlags& flags);

// Checks the shared flags (throws UsageError naming the flag, before any data is read) and resolves --device. When
// "auto" falls back to the CPU, *note explains why; it is printed by train_and_report, so a failure before training
// is the only line.
Device check_flags_and_pick_device(const TrainingFlags& flags, std::string* note);

// The data set from --data (apps/data_flag.h), and a loom::UsageError when --save, --checkpoint, --history or --report
// names one of its files (under any spelling): a run must not write over what it, and the next run, reads.
FashionMnist load_training_data(const TrainingFlags& flags);

// Refuses (loom::UsageError, before the model is built or anything printed) a model whose training on `data` with
// --batch-size would not fit in the memory `device` has free: the figures, and `hint` on what to make smaller.
void check_training_memory(const std::vector<std::unique_ptr<Layer>>& layers, const Shape& input_shape,
                           const TrainingFlags& flags, const FashionMnist& data, Device device,
                           const std::string& hint);

// Loads --load or --resume (a wrong file is the only line printed), prints the note (if any) to stderr, then the
// summary; trains up to flags.epochs with the callbacks the flags ask for (history and checkpoint written after
// every epoch), saves the weights if asked, evaluates on the test set and prints the first test image's predicted
// and true class; writes the report last, if asked, so that its failure loses nothing trained. Standard output is
// checked after the summary and after every epoch (apps/standard_output.h): a failed write stops the run there,
// after that epoch's history and checkpoint are written.
void train_and_report(Sequential& model, const LabeledImages& train, const LabeledImages& test,
                      const TrainingFlags& flags, const std::string& program, const std::string& note);

}  // namespace loom::apps
