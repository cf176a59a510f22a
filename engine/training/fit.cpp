// Trainer::fit: the epoch loop with Keras's callback hooks around the training step (train_step.h), the
// validation pass after each epoch, and the history it returns.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include <unistd.h>

#include "engine/data/device_dataset.h"
#include "engine/io/file_text.h"
#include "engine/model/sequential.h"
#include "engine/runtime/buffer.h"
#include "engine/runtime/epoch_timer.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/evaluation_loop.h"
#include "engine/training/progress_logger.h"
#include "engine/training/totals_monitor.h"
#include "engine/training/train_step.h"
#include "engine/training/trainer.h"

namespace loom {
namespace {

bool live_progress(const FitOptions& options) {
  if (options.verbose <= 0 || options.live_progress == LiveProgress::Never) return false;
  return options.live_progress == LiveProgress::Always || (options.out == &std::cout && isatty(STDOUT_FILENO));
}

void check_options(const FitOptions& options) {
  if (options.epochs < 1) throw UsageError("fit: epochs must be at least 1, got " + std::to_string(options.epochs));
  if (options.initial_epoch < 0 || options.initial_epoch >= options.epochs)
    throw UsageError("fit: initial_epoch must lie in [0, epochs), got " + std::to_string(options.initial_epoch) +
                     " with " + count_text(options.epochs, "epoch"));
  if (options.batch_size < 1)
    throw UsageError("fit: batch size must be at least 1, got " + std::to_string(options.batch_size));
  if (!(options.validation_split >= 0 && options.validation_split < 1))
    throw UsageError("fit: validation_split must lie in [0, 1), got " + std::to_string(options.validation_split));
  if (!options.out) throw UsageError("fit: no output stream given");
  for (const Callback* callback : options.callbacks)
    if (!callback) throw UsageError("fit: a callback is null");
}

// Keras's validation_split: the last fraction of the samples as given (before any shuffling) is held out.
struct Split {
  LabeledImages train, validation;
};
Split split_off_validation(const LabeledImages& data, double fraction) {
  const int64_t n = data.size();
  const std::string problem = validation_split_problem(n, fraction);
  if (!problem.empty()) throw UsageError("fit: validation_split " + problem);
  const int64_t train = validation_split_point(n, fraction);
  return {{data.images.rows(0, train), data.labels.rows(0, train)},
          {data.images.rows(train, n), data.labels.rows(train, n)}};
}

}  // namespace

int64_t validation_split_point(int64_t samples, double fraction) {
  return static_cast<int64_t>(static_cast<double>(samples) * (1.0 - fraction));
}

std::string validation_split_problem(int64_t samples, double fraction) {
  const int64_t train = validation_split_point(samples, fraction);
  if (train >= 1 && train < samples) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.12g", fraction);  // as typed: 0.99999999, not 1.000000
  return std::string(text) + " of " + std::to_string(samples) + " samples leaves " +
         (train < 1 ? "none to train on" : "none to validate on");
}

History Trainer::fit(const LabeledImages& data, const FitOptions& options) {
  check_options(options);
  if (data.size() == 0) throw UsageError("fit: the training data is empty");
  Split split;
  const LabeledImages* train_data = &data;
  const LabeledImages* validation_data = options.validation_data;
  if (!validation_data && options.validation_split > 0) {
    split = split_off_validation(data, options.validation_split);
    train_data = &split.train;
    validation_data = &split.validation;
  }

  DeviceDataset train_set(*train_data, model_.input_shape(), model_.device(), options.seed, "fit");
  if (!options.shuffle_state.empty()) train_set.set_shuffle_state(options.shuffle_state);
  return fit_on(train_set, validation_data, options);
}

History Trainer::fit(DeviceDataset& data, const FitOptions& options) {
  check_options(options);
  if (data.device() != model_.device() || data.sample_shape() != model_.input_shape())
    throw UsageError("fit: the data set was uploaded for " + std::string(device_name(data.device())) + " and input " +
                     shape_str(data.sample_shape()) + ", the model is on " + device_name(model_.device()) +
                     " with input " + shape_str(model_.input_shape()));
  if (options.validation_split > 0 && !options.validation_data)
    throw UsageError("fit: validation_split needs the data as loaded; give an uploaded data set validation_data");
  if (!options.shuffle_state.empty()) data.set_shuffle_state(options.shuffle_state);
  return fit_on(data, options.validation_data, options);
}

History Trainer::fit_on(DeviceDataset& train_set, const LabeledImages* validation_data, const FitOptions& options) {
  // Everything the epochs use is made here, before the first step: data sets uploaded once, batch views and the
  // layers' plans for every batch size, the validation pass's state. Nothing is allocated between two steps.
  std::unique_ptr<DeviceDataset> validation_set;
  if (validation_data)
    validation_set = std::make_unique<DeviceDataset>(*validation_data, model_.input_shape(), model_.device(), 0,
                                                     "fit: validation data");
  train_set.set_augmentation(options.augmentation, philox_key(model_.random_seed(), kAugmentationStream), "fit");
  const int64_t n = train_set.size();
  const int64_t batch = std::min(options.batch_size, n);
  int64_t steps = (n + batch - 1) / batch;
  if (options.max_steps_per_epoch > 0) steps = std::min(steps, options.max_steps_per_epoch);
  const int64_t samples_per_epoch = std::min(n, steps * batch);
  model_.views_for(batch);
  if (samples_per_epoch % batch) model_.views_for(samples_per_epoch % batch);
  EvaluationLoop validation(model_);
  if (validation_set) validation.prepare(validation_set->size(), batch);

  // fit's own callbacks first: the progress bar prints each epoch's line before any callback says why it stops.
  ProgressLogger progress(live_progress(options));
  TerminateOnNaN nan_guard;
  std::vector<Callback*> callbacks;
  if (options.verbose > 0) callbacks.push_back(&progress);
  if (options.stop_on_nan) callbacks.push_back(&nan_guard);
  callbacks.insert(callbacks.end(), options.callbacks.begin(), options.callbacks.end());
  const bool snapshots =
      std::any_of(callbacks.begin(), callbacks.end(), [](const Callback* c) { return c->reads_running_totals(); });
  // Made once per fit, outside the timed epochs (pinned memory is slow to allocate).
  std::unique_ptr<TotalsMonitor> monitor = snapshots ? std::make_unique<TotalsMonitor>(model_.device()) : nullptr;
  FitContext context(*this, options, steps, validation_set != nullptr, train_set, callbacks);

  TrainStep& step = this->step();
  const bool use_graph = model_.device() == Device::CUDA && options.cuda_graph;
  EpochTimer timer(model_.device());
  History history;
  step.begin_fit();
  for (Callback* c : callbacks) c->on_train_begin(context);
  for (int epoch = options.initial_epoch; epoch < options.epochs && !context.stop_training; ++epoch) {
    for (Callback* c : callbacks) c->on_epoch_begin(context, epoch);
    auto start = std::chrono::steady_clock::now();
    EpochResult result;
    result.learning_rate = step.state().current_learning_rate();
    train_set.begin_epoch(options.shuffle);
    timer.start();  // after the shuffle's upload, as the PyTorch reference times its epochs
    step.begin_epoch();
    if (monitor) monitor->reset();
    context.set_running_totals(false, 0, 0);
    int64_t samples = 0;
    // As in Keras, a stop request is looked at after each step, so every epoch reported trained at least one.
    for (int64_t s = 0; s < steps; ++s) {
      for (Callback* c : callbacks) c->on_batch_begin(context, s);
      BatchViews& v = model_.views_for(std::min(batch, n - samples));
      if (step.run(train_set, v, use_graph && v.rows == batch)) ++result.graph_steps;  // the last batch may be short
      samples += v.rows;
      if (monitor) {
        monitor->request(step.totals(), samples);
        double loss = 0, accuracy = 0;
        bool known = monitor->latest(loss, accuracy);
        context.set_running_totals(known, loss, accuracy);
      }
      for (Callback* c : callbacks) c->on_batch_end(context, s);
      if (context.stop_training) break;
    }
    timer.stop();
    std::vector<float> totals = step.totals().to_vector();  // the epoch's one synchronization
    result.device_ms = timer.elapsed_ms();
    result.device_bytes_in_use = Buffer::device_bytes_in_use();
    result.loss = totals[0] / static_cast<double>(samples);
    result.accuracy = totals[1] / static_cast<double>(samples);
    result.seconds = seconds_since(start);
    if (validation_set) {
      Evaluation held_out = validation.run(*validation_set, batch);
      result.validated = true;
      result.val_loss = held_out.loss;
      result.val_accuracy = held_out.accuracy;
    }
    for (Callback* c : callbacks) c->on_epoch_end(context, epoch, result);
    history.push_back(result);
  }
  for (Callback* c : callbacks) c->on_train_end(context, history);
  if (nan_guard.terminated())
    throw Error(std::string("fit: the loss became ") + (std::isnan(history.back().loss) ? "nan" : "infinite") +
                " in epoch " + std::to_string(nan_guard.terminated_epoch() + 1) + " (try a lower learning rate)");
  return history;
}

}  // namespace loom
