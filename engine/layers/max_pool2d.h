#pragma once

#include "engine/layers/layer.h"
#include "engine/layers/plan_cache.h"
#include "kernels/max_pool2d.h"

namespace loom {

// Keras's MaxPooling2D with padding "valid": pool_size windows every `strides` (default: the pool size).
class MaxPool2D : public Layer {
 public:
  explicit MaxPool2D(int64_t pool_size = 2) : MaxPool2D(pool_size, pool_size, pool_size, pool_size) {}
  MaxPool2D(int64_t pool_h, int64_t pool_w, int64_t stride_h, int64_t stride_w);
  ~MaxPool2D() override;

  std::string type() const override { return "MaxPooling2D"; }
  std::string default_name() const override { return "max_pooling2d"; }
  LayerConfig config() const override {
    return {{"pool_size", std::vector<int64_t>{sample_.pool_h, sample_.pool_w}},
            {"strides", std::vector<int64_t>{sample_.stride_h, sample_.stride_w}},
            {"padding", std::string("valid")}};
  }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override;
  void prepare(Device device, int64_t rows, bool needs_input_gradient) override;
  void forward(const Tensor& x, Tensor& y, bool training) override;
  void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) override;

 private:
  MaxPool2dGeometry sample_;
  PlanCache<cuda::MaxPool2dPlan, MaxPool2dGeometry> plans_;
};

}  // namespace loom
