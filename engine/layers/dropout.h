#pragma once

#include "engine/layers/layer.h"
#include "kernels/dropout.h"

namespace loom {

// Keras's Dropout: in training, each element is zeroed with probability `rate` and the others scaled by
// 1 / (1 − rate); in evaluation and prediction it passes its input through. The mask is drawn from the model's seed,
// the layer's place in the model and the training step (kernels/dropout.h), so a run reproduces from its seed, a
// resumed run draws what the uninterrupted one would have, and a replayed CUDA graph draws afresh every step.
class Dropout : public Layer {
 public:
  explicit Dropout(double rate);

  std::string type() const override { return "Dropout"; }
  std::string default_name() const override { return "dropout"; }
  LayerConfig config() const override { return {{"rate", static_cast<double>(rate_)}}; }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override { return input; }
  void bind_random(const Tensor& step_state, PhiloxKey key) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  float rate_;
  Tensor step_state_;
  PhiloxKey key_;
  bool bound_ = false;
};

}  // namespace loom
