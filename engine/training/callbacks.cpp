#include "engine/training/callbacks.h"

#include <cmath>
#include <cstdio>

#include "engine/io/file_text.h"
#include "engine/model/sequential.h"
#include "engine/runtime/errors.h"
#include "engine/training/trainer.h"

namespace loom {
namespace {

std::string figure(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

// `value`, saved as `key` by `callback`, within [low, high] after `epochs` epochs; `what` says what it counts.
int within(int value, const std::string& key, const std::string& callback, int low, int high, int epochs,
           const std::string& what) {
  if (value >= low && value <= high) return value;
  throw Error("the saved state of " + callback + " has '" + key + "' " + std::to_string(value) + ", impossible after " +
              count_text(epochs, "epoch") + ": " + what);
}

}  // namespace

FitContext::FitContext(Trainer& trainer, const FitOptions& options, int64_t steps_per_epoch, bool validating,
                       DeviceDataset& training_data, const std::vector<Callback*>& callbacks)
    : trainer(trainer),
      model(trainer.model()),
      options(options),
      steps_per_epoch(steps_per_epoch),
      validating(validating),
      training_data(training_data),
      callbacks(callbacks) {}

double CallbackState::number(const std::string& key, const std::string& callback) const {
  auto it = numbers.find(key);
  if (it == numbers.end()) throw Error("the saved state of " + callback + " lacks '" + key + "'");
  return it->second;
}

int CallbackState::whole_number(const std::string& key, const std::string& callback) const {
  const int low = -1, high = kMaxSavedCount;
  const double value = number(key, callback);
  if (!(value >= low && value <= high) || value != std::floor(value)) {
    char shown[32];
    std::snprintf(shown, sizeof shown, "%.17g", value);
    throw Error("the saved state of " + callback + " has '" + key + "' " + shown + ", not a whole number from " +
                std::to_string(low) + " to " + std::to_string(high));
  }
  return static_cast<int>(value);
}

double saved_best_figure(const CallbackState& state, const std::string& callback, bool higher) {
  const double best = state.number("best", callback);
  if (std::isfinite(best) || best == worst_figure(higher)) return best;
  throw Error("the saved state of " + callback + " has 'best' " + shortest_text(best) +
              ", impossible: it is an epoch's figure, or " + shortest_text(worst_figure(higher)) +
              " before any epoch improved");
}

int saved_epoch_count(const CallbackState& state, const std::string& key, const std::string& callback) {
  const int epochs = state.whole_number(kEpochsDoneNumber, callback);
  return within(state.whole_number(key, callback), key, callback, 0, epochs, epochs,
                "it counts epochs, from 0 to " + std::to_string(epochs));
}

int saved_epoch_index(const CallbackState& state, const std::string& key, const std::string& callback) {
  const int epochs = state.whole_number(kEpochsDoneNumber, callback);
  return within(state.whole_number(key, callback), key, callback, -1, epochs - 1, epochs,
                "it is an epoch index, from 0 to " + std::to_string(epochs - 1) + ", or -1 for none");
}

double monitored_value(const EpochResult& epoch, const std::string& monitor) {
  if (monitor == "loss") return epoch.loss;
  if (monitor == "accuracy") return epoch.accuracy;
  if (monitor == "val_loss") return epoch.val_loss;
  if (monitor == "val_accuracy") return epoch.val_accuracy;
  throw UsageError("no epoch figure named '" + monitor + "' (loss, accuracy, val_loss or val_accuracy)");
}

void check_monitor(const FitContext& context, const std::string& monitor, const std::string& who) {
  if (monitor != "loss" && monitor != "accuracy" && monitor != "val_loss" && monitor != "val_accuracy")
    throw UsageError(who + ": cannot monitor '" + monitor + "' (loss, accuracy, val_loss or val_accuracy)");
  if (monitor.rfind("val_", 0) == 0 && !context.validating)
    throw UsageError(who + ": monitoring '" + monitor +
                     "' needs validation data (a validation split or explicit validation data)");
}

bool higher_is_better(const std::string& monitor, MonitorMode mode) {
  if (mode != MonitorMode::Auto) return mode == MonitorMode::Max;
  return monitor.find("accuracy") != std::string::npos;
}

// ---- TerminateOnNaN

void TerminateOnNaN::on_train_begin(FitContext&) { terminated_epoch_ = -1; }

void TerminateOnNaN::on_batch_end(FitContext& context, int64_t step) {
  double loss = 0, accuracy = 0;
  if (terminated() || !context.running_totals(loss, accuracy) || std::isfinite(loss)) return;
  if (context.verbose()) context.out() << "Batch " << step << ": Invalid loss, terminating training\n";
  terminated_epoch_ = epoch_;
  context.stop_training = true;
}

void TerminateOnNaN::on_epoch_end(FitContext& context, int epoch, EpochResult& logs) {
  if (terminated() || std::isfinite(logs.loss)) return;
  if (context.verbose()) context.out() << "Epoch " << epoch + 1 << ": Invalid loss, terminating training\n";
  terminated_epoch_ = epoch;
  context.stop_training = true;
}

// ---- StopAtThreshold

StopAtThreshold::StopAtThreshold(std::string monitor, double threshold, MonitorMode mode)
    : monitor_(std::move(monitor)), threshold_(threshold), higher_(higher_is_better(monitor_, mode)) {
  if (!std::isfinite(threshold)) throw UsageError("StopAtThreshold: the threshold must be a finite number");
}

void StopAtThreshold::on_train_begin(FitContext& context) {
  check_monitor(context, monitor_, "StopAtThreshold");
  stopped_epoch_ = -1;
}

void StopAtThreshold::on_epoch_end(FitContext& context, int epoch, EpochResult& logs) {
  const double value = monitored_value(logs, monitor_);
  if (!(higher_ ? value >= threshold_ : value <= threshold_)) return;
  stopped_epoch_ = epoch;
  context.stop_training = true;
  if (context.verbose())
    context.out() << "Epoch " << epoch + 1 << ": " << monitor_ << " " << figure(value) << " reached "
                  << figure(threshold_) << ", stopping training\n";
}

// ---- EarlyStopping

EarlyStopping::EarlyStopping(Options options) : options_(std::move(options)) {
  if (options_.patience < 0)
    throw UsageError("EarlyStopping: patience must be 0 or more, got " + std::to_string(options_.patience));
  if (!(options_.min_delta >= 0)) throw UsageError("EarlyStopping: min_delta must be 0 or more");
  higher_ = higher_is_better(options_.monitor, options_.mode);
}

void EarlyStopping::on_train_begin(FitContext& context) {
  check_monitor(context, options_.monitor, "EarlyStopping");
  if (restored_) {
    restored_ = false;
    return;
  }
  best_ = worst_figure(higher_);
  best_epoch_ = -1;
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(FitContext& context, int epoch, EpochResult& logs) {
  const double current = monitored_value(logs, options_.monitor);
  // Keras keeps the first epoch's weights as the fallback: restored if no epoch ever improves (a NaN from the start).
  if (options_.restore_best_weights && best_weights_.empty()) {
    best_weights_ = context.model.parameters().to_vector();
    best_epoch_ = epoch;
  }
  ++wait_;
  if (improves_on(current, best_, options_.min_delta, higher_)) {
    best_ = current;
    best_epoch_ = epoch;
    if (options_.restore_best_weights) best_weights_ = context.model.parameters().to_vector();
    wait_ = 0;
    return;
  }
  if (wait_ >= options_.patience && epoch > 0) {
    stopped_epoch_ = epoch;
    context.stop_training = true;
  }
}

CallbackState EarlyStopping::state() const {
  return {{{"best", best_}, {"best_epoch", best_epoch_}, {"wait", wait_}, {"stopped_epoch", stopped_epoch_}},
          best_weights_};
}

void EarlyStopping::check_state(const CallbackState& state) const {
  const char* name = "early_stopping";
  const double best = saved_best_figure(state, name, higher_);
  const int best_epoch = saved_epoch_index(state, "best_epoch", name);
  saved_epoch_count(state, "wait", name);
  saved_epoch_index(state, "stopped_epoch", name);
  if (std::isfinite(best) && best_epoch < 0)
    throw Error("the saved state of early_stopping has 'best' " + shortest_text(best) +
                " but 'best_epoch' -1, impossible: the epoch that set the best figure is its best epoch");
}

void EarlyStopping::restore_state(const CallbackState& state) {
  check_state(state);
  const char* name = "early_stopping";
  best_ = state.number("best", name);
  best_epoch_ = state.whole_number("best_epoch", name);
  wait_ = state.whole_number("wait", name);
  stopped_epoch_ = state.whole_number("stopped_epoch", name);
  best_weights_ = state.parameters;
  restored_ = true;
}

void EarlyStopping::on_train_end(FitContext& context, History&) {
  if (stopped_epoch_ >= 0 && context.verbose()) context.out() << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
  if (!options_.restore_best_weights || best_weights_.empty()) return;
  if (context.verbose())
    context.out() << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << ".\n";
  Tensor& params = context.model.parameters();
  params.copy_from(Tensor::wrap(best_weights_.data(), params.shape(), Device::CPU));
}

}  // namespace loom
