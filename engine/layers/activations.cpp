#include "engine/layers/activations.h"

#include "engine/layers/config_json.h"
#include "kernels/relu.h"
#include "kernels/softmax.h"

namespace loom {

std::unique_ptr<Layer> ReLU::from_config(const ConfigReader& config) {
  config.expect_keys({});
  return std::make_unique<ReLU>();
}

void ReLU::forward(const Tensor& x, Tensor& y, bool /*training*/) { relu_forward(x, y); }

void ReLU::backward(const Tensor&, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (dx) relu_backward(y, dy, *dx);
}

std::unique_ptr<Layer> Softmax::from_config(const ConfigReader& config) {
  config.expect_keys({});
  return std::make_unique<Softmax>();
}

void Softmax::forward(const Tensor& x, Tensor& y, bool /*training*/) { softmax_forward(x, y); }

void Softmax::backward(const Tensor&, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (dx) softmax_backward(y, dy, *dx);
}

}  // namespace loom
