#include "engine/training/lr_schedules.h"

#include <cmath>
#include <cstdio>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"
#include "engine/training/trainer.h"

namespace loom {

LearningRateScheduler::LearningRateScheduler(Schedule schedule) : schedule_(std::move(schedule)) {
  if (!schedule_) throw UsageError("LearningRateScheduler: no schedule given");
}

void LearningRateScheduler::on_epoch_begin(FitContext& context, int epoch) {
  const double rate = schedule_(epoch, context.trainer.learning_rate());
  if (!(rate > 0) || !std::isfinite(rate))
    throw Error("LearningRateScheduler: the schedule gave " + std::to_string(rate) + " for epoch " +
                std::to_string(epoch + 1) + " (a learning rate must be a positive number)");
  context.trainer.set_learning_rate(static_cast<float>(rate));
}

LearningRateScheduler::Schedule step_decay(double initial, double factor, int every) {
  if (!(factor > 0 && factor <= 1)) throw UsageError("step decay: the factor must lie in (0, 1]");
  if (every < 1) throw UsageError("step decay: the step must be at least 1 epoch, got " + std::to_string(every));
  return [=](int epoch, double) { return initial * std::pow(factor, epoch / every); };
}

LearningRateScheduler::Schedule cosine_decay(double initial, int epochs, double floor) {
  if (epochs < 1) throw UsageError("cosine decay: the decay must last at least 1 epoch");
  if (!(floor >= 0 && floor < 1)) throw UsageError("cosine decay: the floor must lie in [0, 1)");
  return [=](int epoch, double) {
    const double progress = std::min(1.0, static_cast<double>(epoch) / epochs);
    // At the last epoch the rate would be floor · initial, which is 0 by default: no step would learn anything.
    // Keras counts steps and never reaches the end inside training either.
    const double cosine = 0.5 * (1 + std::cos(M_PI * progress));
    return initial * (floor + (1 - floor) * cosine);
  };
}

ReduceLROnPlateau::ReduceLROnPlateau(Options options) : options_(std::move(options)) {
  if (!(options_.factor > 0 && options_.factor < 1))
    throw UsageError("ReduceLROnPlateau: factor must lie in (0, 1), got " + std::to_string(options_.factor));
  if (options_.patience < 0 || options_.cooldown < 0)
    throw UsageError("ReduceLROnPlateau: patience and cooldown must be 0 or more");
  if (!(options_.min_rate >= 0)) throw UsageError("ReduceLROnPlateau: min_rate must be 0 or more");
  higher_ = higher_is_better(options_.monitor, options_.mode);
}

void ReduceLROnPlateau::on_train_begin(FitContext& context) {
  check_monitor(context, options_.monitor, "ReduceLROnPlateau");
  if (restored_) {
    restored_ = false;
    return;
  }
  best_ = worst_figure(higher_);
  wait_ = 0;
  cooldown_left_ = 0;
}

CallbackState ReduceLROnPlateau::state() const {
  return {{{"best", best_}, {"wait", wait_}, {"cooldown_left", cooldown_left_}}, {}};
}

void ReduceLROnPlateau::check_state(const CallbackState& state) const {
  const char* name = "reduce_lr_on_plateau";
  saved_best_figure(state, name, higher_);
  saved_epoch_count(state, "wait", name);
  const int cooldown_left = state.whole_number("cooldown_left", name);
  if (cooldown_left < 0 || cooldown_left > options_.cooldown)
    throw Error("the saved state of reduce_lr_on_plateau has 'cooldown_left' " + std::to_string(cooldown_left) +
                ", impossible: it counts down from the cooldown, " + std::to_string(options_.cooldown) + ", to 0");
}

void ReduceLROnPlateau::restore_state(const CallbackState& state) {
  check_state(state);
  const char* name = "reduce_lr_on_plateau";
  best_ = state.number("best", name);
  wait_ = state.whole_number("wait", name);
  cooldown_left_ = state.whole_number("cooldown_left", name);
  restored_ = true;
}

void ReduceLROnPlateau::on_epoch_end(FitContext& context, int epoch, EpochResult& logs) {
  const double current = monitored_value(logs, options_.monitor);
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    wait_ = 0;
  }
  if (improves_on(current, best_, options_.min_delta, higher_)) {
    best_ = current;
    wait_ = 0;
    return;
  }
  if (cooldown_left_ > 0 || ++wait_ < options_.patience) return;
  // Compared as the float the rate is kept in (as Keras compares with float32(min_lr)): a double floor between two
  // floats would "reduce" to the same rate every epoch.
  const float old_rate = context.trainer.learning_rate();
  const float floor = static_cast<float>(options_.min_rate);
  const float new_rate = std::max(static_cast<float>(old_rate * options_.factor), floor);
  if (old_rate > floor && new_rate > 0 && new_rate < old_rate) {  // a rate underflowing to 0 is left as it is
    context.trainer.set_learning_rate(new_rate);
    if (context.verbose()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "Epoch %d: ReduceLROnPlateau reducing learning rate to %g.\n", epoch + 1,
                    new_rate);
      context.out() << buf;
    }
    cooldown_left_ = options_.cooldown;
    wait_ = 0;
  }
}

}  // namespace loom
