#pragma once

#include "engine/layers/layer.h"
#include "engine/layers/plan_cache.h"
#include "kernels/batch_norm.h"

namespace loom {

// Keras's BatchNormalization over the last axis (the features of a Dense output, the channels of an image):
// in training, each batch is normalized by its own mean and (biased) variance, scaled by gamma and shifted by beta,
// and the moving mean and variance follow it (moving = moving · momentum + batch · (1 − momentum)); in evaluation
// and prediction the moving statistics normalize instead. gamma starts at 1, beta at 0, the moving mean at 0 and the
// moving variance at 1; the moving statistics are non-trainable parameters (in the summary's count, in saved files
// and checkpoints, never touched by the optimizer). Kernels: kernels/batch_norm.h.
class BatchNormalization : public Layer {
 public:
  explicit BatchNormalization(float momentum = 0.99f, float epsilon = 1e-3f);
  ~BatchNormalization() override;

  std::string type() const override { return "BatchNormalization"; }
  std::string default_name() const override { return "batch_normalization"; }
  LayerConfig config() const override {
    return {{"momentum", static_cast<double>(settings_.momentum)}, {"epsilon", static_cast<double>(settings_.epsilon)}};
  }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override;
  std::vector<ParamSpec> param_specs() const override;
  void bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) override;
  void prepare(Device device, int64_t rows, bool needs_input_gradient) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  BatchNormSettings settings_;
  BatchNormGeometry sample_;  // batch 0: per-sample geometry
  Tensor gamma_, beta_, moving_mean_, moving_var_, gamma_grad_, beta_grad_;
  // The last training batch's statistics, which backward() differentiates through.
  Tensor batch_mean_, batch_inv_std_;
  // cuDNN always writes an input gradient: where the model needs none, it goes here.
  Tensor unused_input_gradient_;
  PlanCache<cuda::BatchNormPlan, BatchNormGeometry> plans_;
};

}  // namespace loom
