#include "engine/layers/dense.h"

#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"
#include "kernels/dense.h"
#include "kernels/softmax.h"

namespace loom {

Dense::Dense(int64_t units, Activation activation) : units_(units), activation_(activation) {
  if (units <= 0) throw UsageError("Dense: units must be positive, got " + std::to_string(units));
}

std::unique_ptr<Layer> Dense::from_config(const ConfigReader& config) {
  config.expect_keys({"units", "activation"});
  Activation activation = config.activation("activation");
  return std::make_unique<Dense>(config.integer("units", 1, kMaxConfigWidth), activation);
}

Shape Dense::build(const Shape& input) {
  if (input.size() != 1)
    throw UsageError("Dense '" + name() + "' needs a flat input, got " + shape_str(input) + " (add a Flatten first)");
  inputs_ = input[0];
  return {units_};
}

std::vector<ParamSpec> Dense::param_specs() const {
  return {{"kernel", {inputs_, units_}, Init::GlorotUniform, inputs_, units_}, {"bias", {units_}, Init::Zeros}};
}

void Dense::bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) {
  kernel_ = std::move(params.at(0));
  bias_ = std::move(params.at(1));
  kernel_grad_ = std::move(grads.at(0));
  bias_grad_ = std::move(grads.at(1));
}

void Dense::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  bool softmax = activation_ == Activation::Softmax;
  dense_forward(x, kernel_, bias_, y, softmax ? Activation::None : activation_);
  if (softmax && !softmax_handed_to_loss_) softmax_forward(y, y);
}

void Dense::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  Activation fused = activation_;
  if (softmax_handed_to_loss_) {
    fused = Activation::None;
  } else if (activation_ == Activation::Softmax) {
    softmax_backward(y, dy, dy);
    fused = Activation::None;
  }
  dense_backward(x, kernel_, y, dy, fused, dx, kernel_grad_, bias_grad_);
}

}  // namespace loom
