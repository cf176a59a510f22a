// Keras's callback hooks. fit calls them in this order: on_train_begin; per epoch on_epoch_begin, per step
// on_batch_begin / on_batch_end, then on_epoch_end (after validation, with the epoch's figures, which a callback may
// read); on_train_end. Setting `stop_training` ends training after the current step (mid-epoch) or epoch.
// The progress bar, the NaN guard, early stopping and learning-rate schedules are all callbacks; none of them
// lives in the loop itself (engine/training/fit.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/training/fit_options.h"

namespace loom {

class Callback;
class DeviceDataset;
class Sequential;
class Trainer;

// What callbacks see of the run (Keras's `self.model` and `self.params`) and what they may change.
class FitContext {
 public:
  FitContext(Trainer& trainer, const FitOptions& options, int64_t steps_per_epoch, bool validating,
             DeviceDataset& training_data, const std::vector<Callback*>& callbacks);

  // The Trainer running fit (its learning rate, its step state) and the model it trains (the weights).
  Trainer& trainer;
  Sequential& model;
  const FitOptions& options;
  const int64_t steps_per_epoch;
  const bool validating;       // val_loss and val_accuracy will be in every epoch's figures
  bool stop_training = false;  // set by a callback: fit stops after the current step
  // What a checkpoint saves beside the model: the training set (its shuffle generator) and every callback of the
  // run, fit's own included.
  DeviceDataset& training_data;
  const std::vector<Callback*>& callbacks;

  // Lines a callback prints (with options.verbose > 0), below the progress bar.
  bool verbose() const { return options.verbose > 0; }
  std::ostream& out() const { return *options.out; }

  // Running means over the current epoch, from the newest snapshot of the device totals that has landed: never
  // waits for the GPU (on the CPU it is exact after every step). False before the first snapshot lands, or when
  // no callback asked for them (see Callback::reads_running_totals).
  bool running_totals(double& loss, double& accuracy) const {
    loss = running_loss_;
    accuracy = running_accuracy_;
    return has_running_totals_;
  }
  // fit, after each step, from the one snapshot read per step (callbacks share it).
  void set_running_totals(bool known, double loss, double accuracy) {
    has_running_totals_ = known;
    running_loss_ = loss;
    running_accuracy_ = accuracy;
  }

 private:
  bool has_running_totals_ = false;
  double running_loss_ = 0, running_accuracy_ = 0;
};

// What a callback carries from one epoch to the next (EarlyStopping's best figure and patience count, and the best
// weights), saved in checkpoints so that a resumed run decides exactly as the run it continues would have.
struct CallbackState {
  std::map<std::string, double> numbers;
  std::vector<float> parameters;  // a copy of the model's parameter buffer, or empty
  // The number saved under `key`; a loom::Error naming the callback and the key when the state lacks it.
  double number(const std::string& key, const std::string& callback) const;
  // The same for a count or an epoch: a whole number from -1 to kMaxSavedCount (far beyond any run, and far
  // enough below INT_MAX that counting on from it cannot overflow), else a loom::Error saying so.
  int whole_number(const std::string& key, const std::string& callback) const;
  static constexpr int kMaxSavedCount = 1 << 30;
};

class Callback {
 public:
  virtual ~Callback() = default;

  // For checkpoints: the state's name (unique among a run's callbacks; "" for a callback without state, the
  // default), the state after an epoch, and its restoration before a resumed fit, whose on_train_begin then keeps
  // it instead of starting afresh.
  virtual std::string state_name() const { return ""; }
  virtual CallbackState state() const { return {}; }
  // A loom::Error when `state` is not one this callback could restore (a damaged checkpoint); changes nothing. A
  // resume checks every callback's state before it restores any.
  virtual void check_state(const CallbackState&) const {}
  virtual void restore_state(const CallbackState&) {}

  // True for a callback that calls FitContext::running_totals during an epoch: fit then snapshots the device
  // totals as steps complete (asynchronously, at most every few milliseconds).
  virtual bool reads_running_totals() const { return false; }

  virtual void on_train_begin(FitContext&) {}
  virtual void on_train_end(FitContext&, History&) {}
  virtual void on_epoch_begin(FitContext&, int /*epoch*/) {}
  virtual void on_epoch_end(FitContext&, int /*epoch*/, EpochResult&) {}
  virtual void on_batch_begin(FitContext&, int64_t /*step*/) {}
  virtual void on_batch_end(FitContext&, int64_t /*step*/) {}
};

}  // namespace loom
