#pragma once

#include "engine/layers/layer.h"
#include "kernels/activation.h"

namespace loom {

// Fully connected layer: y = act(x · kernel + bias), kernel [in, out] Glorot-uniform, bias zeros. ReLU is fused
// into the bias pass; softmax runs as a row op after it (or is handed to the loss).
class Dense : public Layer {
 public:
  explicit Dense(int64_t units, Activation activation = Activation::None);

  std::string type() const override { return "Dense"; }
  std::string default_name() const override { return "dense"; }
  Shape build(const Shape& input) override;
  LayerConfig config() const override {
    return {{"units", units_}, {"activation", std::string(activation_name(activation_))}};
  }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  std::vector<ParamSpec> param_specs() const override;
  void bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  int64_t macs_per_sample() const override { return inputs_ * units_; }
  bool ends_in_softmax() const override { return activation_ == Activation::Softmax; }
  void hand_softmax_to_loss() override { softmax_handed_to_loss_ = ends_in_softmax(); }

  int64_t units() const { return units_; }
  const Tensor& kernel() const { return kernel_; }
  const Tensor& bias() const { return bias_; }

 private:
  int64_t units_;
  int64_t inputs_ = 0;
  Activation activation_;
  bool softmax_handed_to_loss_ = false;  // then the output is the logits and the loss applies softmax
  Tensor kernel_, bias_, kernel_grad_, bias_grad_;
};

}  // namespace loom
