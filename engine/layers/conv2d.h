#pragma once

#include "engine/layers/layer.h"
#include "engine/layers/plan_cache.h"
#include "kernels/activation.h"
#include "kernels/conv2d.h"

namespace loom {

enum class Padding { Valid, Same };

// Keras's Conv2D with strides 1: `filters` kernels of kernel_h × kernel_w over channels-last input, Glorot-uniform
// kernels (fans kh·kw·in and kh·kw·filters), zero biases, ReLU fused into the bias pass when asked. "same" padding
// needs odd kernel sizes (cuDNN pads symmetrically; Keras's extra row for even sizes has no cuDNN equivalent).
class Conv2D : public Layer {
 public:
  Conv2D(int64_t filters, int64_t kernel_size, Padding padding = Padding::Valid,
         Activation activation = Activation::None);
  Conv2D(int64_t filters, int64_t kernel_h, int64_t kernel_w, Padding padding, Activation activation);
  ~Conv2D() override;

  std::string type() const override { return "Conv2D"; }
  std::string default_name() const override { return "conv2d"; }
  LayerConfig config() const override {
    return {{"filters", filters_},
            {"kernel_size", std::vector<int64_t>{kernel_h_, kernel_w_}},
            {"padding", std::string(padding_ == Padding::Same ? "same" : "valid")},
            {"activation", std::string(activation_name(activation_))}};
  }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override;
  std::vector<ParamSpec> param_specs() const override;
  void bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) override;
  void prepare(Device device, int64_t rows, bool needs_input_gradient) override;
  int64_t macs_per_sample() const override {
    return sample_.out_height() * sample_.out_width() * filters_ * kernel_h_ * kernel_w_ * sample_.in_channels;
  }
  // On the CPU, an im2col buffer per thread and the weight gradient's parts (kernels/conv2d_cpu.cpp).
  int64_t scratch_floats(Device device, int64_t batch) const override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  Conv2dGeometry sample_with_batch(int64_t rows) const;

  int64_t filters_, kernel_h_, kernel_w_;
  Padding padding_;
  Activation activation_;
  Conv2dGeometry sample_;  // batch 0: per-sample geometry
  Tensor kernel_, bias_, kernel_grad_, bias_grad_;
  PlanCache<cuda::Conv2dPlan, Conv2dGeometry> plans_;
};

}  // namespace loom
