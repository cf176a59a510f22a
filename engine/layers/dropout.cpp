#include "engine/layers/dropout.h"

#include "engine/io/file_text.h"
#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"

namespace loom {

// The rate is checked as the float the mask is drawn with: 0.99999999 is below 1 as a double but 1 as a float.
Dropout::Dropout(double rate) : rate_(static_cast<float>(rate)) {
  if (!(rate >= 0 && rate_ < 1.f))
    throw UsageError("Dropout: the rate must lie in [0, 1), got " + shortest_text(rate) +
                     (rate < 1 && rate_ >= 1.f ? " (1 as a 32-bit float)" : ""));
}

std::unique_ptr<Layer> Dropout::from_config(const ConfigReader& config) {
  config.expect_keys({"rate"});
  return std::make_unique<Dropout>(config.number("rate", 0, 1, /*high_open=*/true));
}

void Dropout::bind_random(const Tensor& step_state, PhiloxKey key) {
  step_state_ = step_state.empty() ? Tensor() : step_state.view();
  key_ = key;
  bound_ = !step_state.empty();
}

void Dropout::forward(const Tensor& x, Tensor& y, bool training) {
  if (!training) {
    y.copy_from(x);
    return;
  }
  if (!bound_)
    throw UsageError("Dropout '" + name() +
                     "': train the model through a Trainer (the mask is keyed by its "
                     "training step)");
  dropout(x, y, rate_, key_, step_state_);
}

void Dropout::backward(const Tensor& /*x*/, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  if (dx) dropout(dy, *dx, rate_, key_, step_state_);
}

}  // namespace loom
