#include "engine/optimizer.h"

#include <cmath>

#include "engine/errors.h"
#include "kernels/sgd.h"

namespace loom {
namespace {
void check_rate(float lr, const char* who) {
  if (!(lr > 0.f) || !std::isfinite(lr))
    throw UsageError(std::string(who) + ": learning rate must be a positive number, got " + std::to_string(lr));
}
}  // namespace

Adam::Adam(AdamHyper hyper) : hyper_(hyper) {
  check_rate(hyper.learning_rate, "Adam");
  if (!(hyper.beta1 >= 0.f && hyper.beta1 < 1.f) || !(hyper.beta2 >= 0.f && hyper.beta2 < 1.f))
    throw UsageError("Adam: beta1 and beta2 must lie in [0, 1)");
  if (!(hyper.epsilon > 0.f)) throw UsageError("Adam: epsilon must be positive");
}

void Adam::prepare(const Tensor& params) {
  m_ = Tensor::zeros(params.shape(), params.device());
  v_ = Tensor::zeros(params.shape(), params.device());
  schedule_ = Tensor::zeros({kAdamScheduleSlots}, params.device());
}

void Adam::step(Tensor& params, const Tensor& grads) {
  if (m_.empty()) throw Error("Adam: step() before prepare()");
  adam_advance(schedule_, hyper_);
  adam_update(params, grads, m_, v_, schedule_, hyper_);
}

SGD::SGD(float learning_rate) : learning_rate_(learning_rate) { check_rate(learning_rate, "SGD"); }

void SGD::step(Tensor& params, const Tensor& grads) { sgd_update(params, grads, learning_rate_); }

}  // namespace loom
