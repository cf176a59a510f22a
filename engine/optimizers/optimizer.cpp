#include "engine/optimizers/optimizer.h"

#include <cmath>

#include "engine/runtime/errors.h"
#include "kernels/sgd.h"

namespace loom {

void check_learning_rate(float learning_rate, const std::string& who) {
  if (!(learning_rate > 0.f) || !std::isfinite(learning_rate))
    throw UsageError(who + ": learning rate must be a positive number, got " + std::to_string(learning_rate));
}

Adam::Adam(AdamHyper hyper) : hyper_(hyper) {
  check_learning_rate(hyper.learning_rate, "Adam");
  if (!(hyper.beta1 >= 0.f && hyper.beta1 < 1.f) || !(hyper.beta2 >= 0.f && hyper.beta2 < 1.f))
    throw UsageError("Adam: beta1 and beta2 must lie in [0, 1)");
  if (!(hyper.epsilon > 0.f)) throw UsageError("Adam: epsilon must be positive");
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

SGD::SGD(float learning_rate) : learning_rate_(learning_rate) { check_learning_rate(learning_rate, "SGD"); }

void SGD::step(Tensor& params, const Tensor& grads, const Tensor& learning_rate) {
  sgd_update(params, grads, learning_rate);
}

}  // namespace loom
