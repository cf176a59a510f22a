#include "engine/training/progress_logger.h"

#include <cstdio>

namespace loom {

ProgressLogger::ProgressLogger(bool live, ProgressBar::Clock clock) : live_(live), clock_(std::move(clock)) {}

void ProgressLogger::on_epoch_begin(FitContext& context, int epoch) {
  context.out() << "Epoch " << epoch + 1 << "/" << context.options.epochs << "\n" << std::flush;
  bar_ = std::make_unique<ProgressBar>(context.steps_per_epoch, context.out(), live_, clock_);
  steps_done_ = 0;
}

void ProgressLogger::on_batch_end(FitContext& context, int64_t step) {
  steps_done_ = step + 1;
  if (!live_) return;
  double loss = -1, accuracy = -1;
  context.running_totals(loss, accuracy);
  bar_->update(step + 1, loss, accuracy);
}

void ProgressLogger::on_epoch_end(FitContext&, int, EpochResult& logs) {
  std::string validation;
  if (logs.validated) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " - val_loss: %.4f - val_accuracy: %.4f", logs.val_loss, logs.val_accuracy);
    validation = buf;
  }
  bar_->finish(logs.loss, logs.accuracy, validation, steps_done_);
}

}  // namespace loom
