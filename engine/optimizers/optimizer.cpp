#include "engine/optimizers/optimizer.h"

#include <cmath>

#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"
#include "kernels/sgd.h"

namespace loom {

void check_learning_rate(float learning_rate, const std::string& who) {
  if (!(learning_rate > 0.f) || !std::isfinite(learning_rate))
    throw UsageError(who + ": learning rate must be a positive number, got " + std::to_string(learning_rate));
}

Adam::Adam(AdamHyper hyper) : hyper_(hyper) {
  check_learning_rate(hyper.learning_rate, "Adam");
  // The powers are taken in float32 (kernels/adam.h): a beta that rounds to 1 there would divide by 1 - 1^t = 0.
  for (double beta : {hyper.beta1, hyper.beta2})
    if (!(beta >= 0 && beta < 1 && static_cast<float>(beta) < 1.f))
      throw UsageError(
          "Adam: beta1 and beta2 must lie in [0, 1), and below 1 - 2^-25 (0.9999999702), which float32 "
          "rounds to 1");
  if (!(hyper.epsilon > 0 && static_cast<float>(hyper.epsilon) > 0.f &&
        std::isfinite(static_cast<float>(hyper.epsilon))))
    throw UsageError("Adam: epsilon must be positive, and in float32 too (from 1.4e-45 to 3.4e38)");
}

void Adam::prepare(const Tensor& params) {
  m_ = Tensor::zeros(params.shape(), params.device());
  v_ = Tensor::zeros(params.shape(), params.device());
  schedule_ = Tensor::zeros({kAdamScheduleSlots}, params.device());
}

void Adam::step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) {
  if (m_.empty()) throw Error("Adam: step() before prepare()");
  adam_advance(schedule_, learning_rate, hyper_);
  adam_update(params, grads, m_, v_, schedule_, hyper_);
}

std::vector<std::pair<std::string, double>> Adam::config() const {
  return {{"learning_rate", float32_setting(hyper_.learning_rate)},
          {"beta_1", hyper_.beta1},
          {"beta_2", hyper_.beta2},
          {"epsilon", hyper_.epsilon}};
}

std::unique_ptr<Optimizer> Adam::from_config(const ConfigReader& config) {
  config.expect_keys({"learning_rate", "beta_1", "beta_2", "epsilon"});
  AdamHyper hyper;
  hyper.learning_rate = static_cast<float>(config.positive_number("learning_rate"));
  hyper.beta1 = config.decay("beta_1");
  hyper.beta2 = config.decay("beta_2");
  hyper.epsilon = config.positive_number("epsilon");
  return std::make_unique<Adam>(hyper);
}

// The step count is kept on the device as a float (kernels/adam.h), exact up to 2^24 steps (8,900 epochs of the
// tutorial's 1,875 steps). A checkpoint stores it as an integer.
int64_t Adam::steps_taken() const {
  if (schedule_.empty()) return 0;
  return static_cast<int64_t>(schedule_.to_vector()[kAdamStep]);
}

void Adam::set_steps_taken(int64_t steps) {
  if (schedule_.empty()) throw Error("Adam: set_steps_taken() before prepare()");
  if (steps < 0 || steps > (int64_t{1} << 24))
    throw Error("Adam: step count " + std::to_string(steps) + " is outside what its float counter holds exactly");
  // alpha (the second slot) is recomputed from the count before every update.
  std::vector<float> schedule{static_cast<float>(steps), 0.f};
  schedule_.copy_from(Tensor::wrap(schedule.data(), {kAdamScheduleSlots}, Device::CPU));
}

SGD::SGD(float learning_rate) : learning_rate_(learning_rate) { check_learning_rate(learning_rate, "SGD"); }

std::vector<std::pair<std::string, double>> SGD::config() const {
  return {{"learning_rate", float32_setting(learning_rate_)}};
}

std::unique_ptr<Optimizer> SGD::from_config(const ConfigReader& config) {
  config.expect_keys({"learning_rate"});
  return std::make_unique<SGD>(static_cast<float>(config.positive_number("learning_rate")));
}

void SGD::step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) {
  sgd_update(params, grads, learning_rate);
}

}  // namespace loom
