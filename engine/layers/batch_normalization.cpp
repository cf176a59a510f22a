#include "engine/layers/batch_normalization.h"

#include <cmath>
#include <utility>

#include "engine/io/file_text.h"
#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"

namespace loom {

BatchNormalization::BatchNormalization(float momentum, float epsilon) {
  if (!(momentum >= 0.f && momentum < 1.f))
    throw UsageError("BatchNormalization: momentum must lie in [0, 1), got " + std::to_string(momentum));
  // Any positive epsilon: cuDNN 9's CUDNN_BN_MIN_EPSILON is 0 (older releases' floor of 1e-5 no longer holds).
  if (!(epsilon > 0.f && std::isfinite(epsilon)))
    throw UsageError("BatchNormalization: epsilon must be a positive number, got " + shortest_text(epsilon));
  settings_.momentum = momentum;
  settings_.epsilon = epsilon;
}

BatchNormalization::~BatchNormalization() = default;

std::unique_ptr<Layer> BatchNormalization::from_config(const ConfigReader& config) {
  config.expect_keys({"momentum", "epsilon"});
  auto epsilon = static_cast<float>(config.number("epsilon", 0, 1, /*high_open=*/false));
  auto momentum = static_cast<float>(config.number("momentum", 0, 1, /*high_open=*/true));
  return std::make_unique<BatchNormalization>(momentum, epsilon);
}

Shape BatchNormalization::build(const Shape& input) {
  if (input.empty())
    throw UsageError("BatchNormalization '" + name() + "' needs per-sample input with a feature axis, got " +
                     shape_str(input));
  sample_.channels = input.back();
  sample_.pixels = shape_numel(input) / input.back();
  return input;
}

std::vector<ParamSpec> BatchNormalization::param_specs() const {
  const Shape c{sample_.channels};
  return {{"gamma", c, Init::Ones},
          {"beta", c, Init::Zeros},
          {"moving_mean", c, Init::Zeros, 0, 0, /*trainable=*/false},
          {"moving_variance", c, Init::Ones, 0, 0, /*trainable=*/false}};
}

void BatchNormalization::bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) {
  gamma_ = std::move(params.at(0));
  beta_ = std::move(params.at(1));
  moving_mean_ = std::move(params.at(2));
  moving_var_ = std::move(params.at(3));
  gamma_grad_ = std::move(grads.at(0));
  beta_grad_ = std::move(grads.at(1));
}

void BatchNormalization::prepare(Device device, int64_t rows, bool needs_input_gradient) {
  if (batch_mean_.device() != device || batch_mean_.numel() != sample_.channels) {
    batch_mean_ = Tensor::zeros({sample_.channels}, device);
    batch_inv_std_ = Tensor::zeros({sample_.channels}, device);
  }
  if (device == Device::CUDA && !needs_input_gradient &&
      unused_input_gradient_.numel() < rows * sample_.pixels * sample_.channels)
    unused_input_gradient_ = Tensor({rows * sample_.pixels * sample_.channels}, device);
  plans_.prepare(device, rows, sample_, name());
}

void BatchNormalization::forward(const Tensor& x, Tensor& y, bool training) {
  const cuda::BatchNormPlan* plan = plans_.find(x, name());
  if (training)
    batch_norm_forward_training(x, gamma_, beta_, y, moving_mean_, moving_var_, batch_mean_, batch_inv_std_, settings_,
                                plan);
  else
    batch_norm_forward_inference(x, gamma_, beta_, moving_mean_, moving_var_, y, settings_, plan);
}

void BatchNormalization::backward(const Tensor& x, const Tensor& /*y*/, Tensor& dy, Tensor* dx) {
  Tensor unused;
  if (!dx && x.device() == Device::CUDA) {
    unused = unused_input_gradient_.rows(0, x.numel()).reshaped(x.shape());
    dx = &unused;
  }
  batch_norm_backward(x, gamma_, batch_mean_, batch_inv_std_, dy, dx, gamma_grad_, beta_grad_, settings_,
                      plans_.find(x, name()));
}

}  // namespace loom
