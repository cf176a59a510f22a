#include "engine/training/trainer.h"

#include "engine/model/sequential.h"
#include "engine/optimizers/optimizer.h"
#include "engine/runtime/errors.h"
#include "engine/training/train_step.h"

namespace loom {

Trainer::Trainer(Sequential& model) : model_(model) {
  model_.require_compiled("Trainer");
  step();
}

Trainer::~Trainer() {
  if (step_ && model_.random_streams_bound_to(step_->state().words())) model_.unbind_random_streams();
}

bool Trainer::step_is_current() const { return step_ && step_compilation_ == model_.compile_count(); }

TrainStep& Trainer::step() {
  if (!step_is_current()) {
    step_.reset();  // its graph ran the old optimizer and loss
    step_ = std::make_unique<TrainStep>(model_);
    step_compilation_ = model_.compile_count();
    // A model another Trainer has trained: the step count goes on from the optimizer's, so that a checkpoint of
    // this run holds steps and optimizer steps that agree (and resumes), and dropout draws masks not drawn before.
    const Optimizer& optimizer = model_.optimizer();
    if (optimizer.counts_steps()) {
      const int64_t taken = optimizer.steps_taken();
      if (taken > 0) step_->state().set_steps_done(static_cast<int32_t>(taken));
    }
  }
  // Checked at every use, not only when the step is made: another Trainer may have trained the model since.
  if (!model_.random_streams_bound_to(step_->state().words())) model_.bind_random_streams(step_->state().words());
  return *step_;
}

// A step not yet made for the model's current compilation starts from the optimizer's rate, with no graph.
float Trainer::learning_rate() const {
  return step_is_current() ? step_->state().current_learning_rate() : model_.optimizer().initial_learning_rate();
}

void Trainer::set_learning_rate(float learning_rate) {
  check_learning_rate(learning_rate, "set_learning_rate");
  step().state().set_learning_rate(learning_rate);
}

int64_t Trainer::graph_captures() const { return step_is_current() ? step_->graph_captures() : 0; }

const std::string& Trainer::graph_failure() const {
  static const std::string none;
  return step_is_current() ? step_->graph_failure() : none;
}

void Trainer::train_step(const Tensor& x, const Tensor& labels) { step().run_on(model_.load_batch(x, labels)); }

}  // namespace loom
