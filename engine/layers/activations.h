#pragma once

#include "engine/layers/layer.h"

namespace loom {

// ReLU as a layer of its own (Keras's layers.ReLU); Dense and Conv2D fuse it when given Activation::ReLU.
class ReLU : public Layer {
 public:
  std::string type() const override { return "ReLU"; }
  std::string default_name() const override { return "re_lu"; }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override { return input; }
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
};

// Softmax over the last dimension (Keras's layers.Softmax). When handed to the loss it becomes the identity and the
// loss computes softmax and its gradient fused.
class Softmax : public Layer {
 public:
  std::string type() const override { return "Softmax"; }
  std::string default_name() const override { return "softmax"; }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override { return input; }
  bool output_aliases_input() const override { return handed_to_loss_; }
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;
  bool ends_in_softmax() const override { return true; }
  void hand_softmax_to_loss() override { handed_to_loss_ = true; }

 private:
  bool handed_to_loss_ = false;
};

}  // namespace loom
