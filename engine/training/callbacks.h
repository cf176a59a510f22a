// The callbacks Keras users reach for, with Keras's semantics and words: TerminateOnNaN, EarlyStopping, and a
// threshold stop (the tutorial's "stop once the loss is below 0.4"). Learning-rate schedules are in
// lr_schedules.h, the progress bar in progress_logger.h.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/training/callback.h"

namespace loom {

// Which way a monitored figure improves. Auto: up for accuracies, down for losses (as Keras decides).
enum class MonitorMode { Auto, Min, Max };

// The epoch figure named by `monitor` ("loss", "accuracy", "val_loss", "val_accuracy").
double monitored_value(const EpochResult& epoch, const std::string& monitor);
// Throws UsageError naming `who` when `monitor` is not one of those, or needs validation data the run lacks.
void check_monitor(const FitContext& context, const std::string& monitor, const std::string& who);
// Whether larger is better for `monitor` in `mode`.
bool higher_is_better(const std::string& monitor, MonitorMode mode);
// Keras's test of progress: `current` beats `best` by more than min_delta, in the direction that is better.
inline bool improves_on(double current, double best, double min_delta, bool higher_is_better) {
  return higher_is_better ? current - min_delta > best : current + min_delta < best;
}
// The "best so far" before any epoch: every figure improves on it.
inline double worst_figure(bool higher_is_better) {
  return higher_is_better ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

// The epochs a run had done when a checkpoint saved a callback's state: a checkpoint's reader adds it to the numbers
// it hands to check_state and restore_state (no callback saves it), so that saved counts and epoch indices are held
// to what that many epochs can give.
constexpr const char* kEpochsDoneNumber = "epochs_done";
// For check_state, held to the state's kEpochsDoneNumber: a best figure (an epoch's, so finite, or the worst figure
// it starts from), a count of epochs (0 to the epochs done) or an epoch index (from 0 and below the epochs done, or
// -1 for none); else a loom::Error naming the callback, the number and why it is impossible.
double saved_best_figure(const CallbackState& state, const std::string& callback, bool higher_is_better);
int saved_epoch_count(const CallbackState& state, const std::string& key, const std::string& callback);
int saved_epoch_index(const CallbackState& state, const std::string& key, const std::string& callback);

// Stops training at the first non-finite loss, without a host synchronization per step: it reads the running
// totals snapshot (on the GPU it lands a few steps behind; the epoch's final figure is checked too), so training
// stops within the epoch that diverged. Says "Batch N: Invalid loss, terminating training", as Keras does.
class TerminateOnNaN : public Callback {
 public:
  bool reads_running_totals() const override { return true; }
  void on_train_begin(FitContext&) override;
  void on_epoch_begin(FitContext&, int epoch) override { epoch_ = epoch; }
  void on_batch_end(FitContext& context, int64_t step) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;

  bool terminated() const { return terminated_epoch_ >= 0; }
  int terminated_epoch() const { return terminated_epoch_; }  // 0-based; -1 when training was not terminated

 private:
  int epoch_ = 0;
  int terminated_epoch_ = -1;
};

// Stops at the end of the first epoch whose `monitor` reached `threshold` (below it for a loss, above it for an
// accuracy, or as `mode` says).
class StopAtThreshold : public Callback {
 public:
  StopAtThreshold(std::string monitor, double threshold, MonitorMode mode = MonitorMode::Auto);
  void on_train_begin(FitContext& context) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;
  int stopped_epoch() const { return stopped_epoch_; }  // 0-based; -1 when it did not stop training

 private:
  std::string monitor_;
  double threshold_;
  bool higher_;
  int stopped_epoch_ = -1;
};

// Keras's EarlyStopping: stop once `monitor` has not improved by more than min_delta for `patience` epochs; with
// restore_best_weights, the parameters of the best epoch are put back when training ends (as Keras 3 does, whether
// or not it stopped early).
class EarlyStopping : public Callback {
 public:
  struct Options {
    std::string monitor = "val_loss";
    double min_delta = 0;
    int patience = 0;
    MonitorMode mode = MonitorMode::Auto;
    bool restore_best_weights = false;
  };
  explicit EarlyStopping(Options options);
  void on_train_begin(FitContext& context) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;
  void on_train_end(FitContext& context, History& history) override;
  std::string state_name() const override { return "early_stopping"; }
  CallbackState state() const override;
  void check_state(const CallbackState& state) const override;
  void restore_state(const CallbackState& state) override;

  int stopped_epoch() const { return stopped_epoch_; }  // 0-based; -1 when it did not stop training
  int best_epoch() const { return best_epoch_; }        // 0-based; -1 before the first epoch
  double best() const { return best_; }
  int wait() const { return wait_; }

 private:
  Options options_;
  bool higher_ = false;
  double best_ = 0;
  int best_epoch_ = -1;
  int wait_ = 0;
  int stopped_epoch_ = -1;
  std::vector<float> best_weights_;  // on the host: copying them costs one read per improving epoch
  bool restored_ = false;            // the next on_train_begin keeps the state
};

}  // namespace loom
