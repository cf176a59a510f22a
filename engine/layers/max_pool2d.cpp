#include "engine/layers/max_pool2d.h"

#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"

namespace loom {

MaxPool2D::MaxPool2D(int64_t pool_h, int64_t pool_w, int64_t stride_h, int64_t stride_w) {
  if (pool_h <= 0 || pool_w <= 0 || stride_h <= 0 || stride_w <= 0)
    throw UsageError("MaxPool2D: pool size and strides must be positive");
  sample_.pool_h = pool_h;
  sample_.pool_w = pool_w;
  sample_.stride_h = stride_h;
  sample_.stride_w = stride_w;
}

MaxPool2D::~MaxPool2D() = default;

std::unique_ptr<Layer> MaxPool2D::from_config(const ConfigReader& config) {
  config.expect_keys({"pool_size", "strides", "padding"});
  std::vector<int64_t> pool = config.integer_pair("pool_size", kMaxConfigWindow);
  std::vector<int64_t> strides = config.integer_pair("strides", kMaxConfigWindow);
  config.choice("padding", {"valid"});
  return std::make_unique<MaxPool2D>(pool[0], pool[1], strides[0], strides[1]);
}

Shape MaxPool2D::build(const Shape& input) {
  if (input.size() != 3)
    throw UsageError("MaxPool2D '" + name() + "' needs (height, width, channels) input, got " + shape_str(input));
  sample_.height = input[0];
  sample_.width = input[1];
  sample_.channels = input[2];
  if (input[0] < sample_.pool_h || input[1] < sample_.pool_w)
    throw UsageError("MaxPool2D '" + name() + "': a " + std::to_string(sample_.pool_h) + "x" +
                     std::to_string(sample_.pool_w) + " pool does not fit input " + shape_str(input));
  return {sample_.out_height(), sample_.out_width(), sample_.channels};
}

void MaxPool2D::prepare(Device device, int64_t rows, bool /*needs_input_gradient*/) {
  plans_.prepare(device, rows, sample_, name());  // one cuDNN descriptor serves both directions
}

void MaxPool2D::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  max_pool2d_forward(x, y, sample_.pool_h, sample_.pool_w, sample_.stride_h, sample_.stride_w, plans_.find(x, name()));
}

void MaxPool2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (dx)
    max_pool2d_backward(x, y, dy, *dx, sample_.pool_h, sample_.pool_w, sample_.stride_h, sample_.stride_w,
                        plans_.find(x, name()));
}

}  // namespace loom
