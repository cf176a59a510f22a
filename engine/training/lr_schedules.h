// Learning-rate schedules as callbacks, with Keras's semantics. They change the rate between epochs through
// Trainer::set_learning_rate, which writes the training step state on the device: kernels read the rate there, so a
// captured CUDA graph applies the new rate on its next replay.
#pragma once

#include <functional>
#include <string>

#include "engine/training/callback.h"
#include "engine/training/callbacks.h"

namespace loom {

// Keras's LearningRateScheduler: before each epoch, rate = schedule(epoch, current rate).
class LearningRateScheduler : public Callback {
 public:
  using Schedule = std::function<double(int epoch, double rate)>;
  explicit LearningRateScheduler(Schedule schedule);
  void on_epoch_begin(FitContext& context, int epoch) override;

 private:
  Schedule schedule_;
};

// rate = initial · factor^floor(epoch / every): Caffe's "step" policy.
LearningRateScheduler::Schedule step_decay(double initial, double factor, int every);
// rate = initial · (floor + (1 − floor) · ½(1 + cos(π · epoch / epochs))): Keras's CosineDecay, per epoch, from
// `initial` down to floor · initial after `epochs` epochs.
LearningRateScheduler::Schedule cosine_decay(double initial, int epochs, double floor = 0);

// Keras's ReduceLROnPlateau: when `monitor` has not improved by more than min_delta for `patience` epochs, multiply
// the rate by `factor` (not below min_rate), then wait `cooldown` epochs before counting again.
class ReduceLROnPlateau : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    MonitorMode mode = MonitorMode::Auto;
    double min_delta = 1e-4;
    int cooldown = 0;
    double min_rate = 0;
  };
  explicit ReduceLROnPlateau(Options options);
  void on_train_begin(FitContext& context) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;
  std::string state_name() const override { return "reduce_lr_on_plateau"; }
  CallbackState state() const override;
  void check_state(const CallbackState& state) const override;
  void restore_state(const CallbackState& state) override;

 private:
  Options options_;
  bool higher_ = false;
  double best_ = 0;
  int wait_ = 0;
  int cooldown_left_ = 0;
  bool restored_ = false;  // the next on_train_begin keeps the state
};

}  // namespace loom
