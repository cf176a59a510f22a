#include "engine/layers/conv2d.h"

#include "engine/layers/config_json.h"
#include "engine/runtime/errors.h"
#include "engine/runtime/host_scratch.h"

namespace loom {

Conv2D::Conv2D(int64_t filters, int64_t kernel_size, Padding padding, Activation activation)
    : Conv2D(filters, kernel_size, kernel_size, padding, activation) {}

Conv2D::Conv2D(int64_t filters, int64_t kernel_h, int64_t kernel_w, Padding padding, Activation activation)
    : filters_(filters), kernel_h_(kernel_h), kernel_w_(kernel_w), padding_(padding), activation_(activation) {
  if (filters <= 0) throw UsageError("Conv2D: filters must be positive, got " + std::to_string(filters));
  if (kernel_h <= 0 || kernel_w <= 0)
    throw UsageError("Conv2D: kernel size must be positive, got " + std::to_string(kernel_h) + "x" +
                     std::to_string(kernel_w));
  if (padding == Padding::Same && (kernel_h % 2 == 0 || kernel_w % 2 == 0))
    throw UsageError("Conv2D: 'same' padding needs an odd kernel size, got " + std::to_string(kernel_h) + "x" +
                     std::to_string(kernel_w) + " (use 'valid' or an odd size)");
  if (activation == Activation::Softmax)
    throw UsageError("Conv2D: softmax activation is not supported (add a Flatten, Dense and softmax)");
}

Conv2D::~Conv2D() = default;

std::unique_ptr<Layer> Conv2D::from_config(const ConfigReader& config) {
  config.expect_keys({"filters", "kernel_size", "padding", "activation"});
  std::vector<int64_t> kernel = config.integer_pair("kernel_size", kMaxConfigWindow);
  Padding padding = config.choice("padding", {"valid", "same"}) == "same" ? Padding::Same : Padding::Valid;
  Activation activation = config.activation("activation");
  return std::make_unique<Conv2D>(config.integer("filters", 1, kMaxConfigWidth), kernel[0], kernel[1], padding,
                                  activation);
}

Shape Conv2D::build(const Shape& input) {
  if (input.size() != 3)
    throw UsageError("Conv2D '" + name() + "' needs (height, width, channels) input, got " + shape_str(input));
  sample_.height = input[0];
  sample_.width = input[1];
  sample_.in_channels = input[2];
  sample_.out_channels = filters_;
  sample_.kernel_h = kernel_h_;
  sample_.kernel_w = kernel_w_;
  sample_.pad_h = padding_ == Padding::Same ? (kernel_h_ - 1) / 2 : 0;
  sample_.pad_w = padding_ == Padding::Same ? (kernel_w_ - 1) / 2 : 0;
  if (sample_.out_height() < 1 || sample_.out_width() < 1)
    throw UsageError("Conv2D '" + name() + "': a " + std::to_string(kernel_h_) + "x" + std::to_string(kernel_w_) +
                     " kernel does not fit input " + shape_str(input));
  return {sample_.out_height(), sample_.out_width(), filters_};
}

std::vector<ParamSpec> Conv2D::param_specs() const {
  int64_t taps = kernel_h_ * kernel_w_;
  return {{"kernel",
           {filters_, kernel_h_, kernel_w_, sample_.in_channels},
           Init::GlorotUniform,
           taps * sample_.in_channels,
           taps * filters_,
           true,
           {1, 2, 3, 0}},
          {"bias", {filters_}, Init::Zeros}};
}

void Conv2D::bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) {
  kernel_ = std::move(params.at(0));
  bias_ = std::move(params.at(1));
  kernel_grad_ = std::move(grads.at(0));
  bias_grad_ = std::move(grads.at(1));
}

int64_t Conv2D::scratch_floats(Device device, int64_t batch) const {
  return device == Device::CPU ? cpu::conv2d_scratch_floats(sample_with_batch(batch)) : 0;
}

Conv2dGeometry Conv2D::sample_with_batch(int64_t rows) const {
  Conv2dGeometry g = sample_;
  g.batch = rows;
  return g;
}

// The GPU plans cuDNN's algorithms and workspace; the CPU reserves the shared im2col scratch, so that neither
// allocates inside a training step.
void Conv2D::prepare(Device device, int64_t rows, bool needs_input_gradient) {
  if (device == Device::CPU) reserve_host_scratch(cpu::conv2d_scratch_floats(sample_with_batch(rows)));
  plans_.prepare(device, rows, sample_, name(), needs_input_gradient);
}

void Conv2D::forward(const Tensor& x, Tensor& y, bool /*training*/) {
  conv2d_forward(x, kernel_, bias_, y, sample_.pad_h, sample_.pad_w, activation_, plans_.find(x, name()));
}

void Conv2D::backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) {
  conv2d_backward(x, kernel_, y, dy, sample_.pad_h, sample_.pad_w, activation_, dx, kernel_grad_, bias_grad_,
                  plans_.find(x, name()));
}

}  // namespace loom
