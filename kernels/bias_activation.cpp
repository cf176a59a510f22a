#include "kernels/bias_activation.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/cpu_parallel.h"

namespace loom {

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::None:
      return "linear";
    case Activation::ReLU:
      return "relu";
    case Activation::Softmax:
      return "softmax";
  }
  return "?";
}

namespace {

void check_fusable(Activation act, const char* op) {
  if (act == Activation::Softmax)
    throw Error(std::string(op) + ": softmax is a row operation and cannot be fused into a bias epilogue");
}

}  // namespace

void bias_activation_forward(Tensor& y, const Tensor& bias, Activation act) {
  const char* op = "bias_activation_forward";
  check_fusable(act, op);
  expect_same_device(op, {&y, &bias});
  int64_t cols = bias.numel();
  if (cols == 0 || y.numel() % cols != 0)
    throw Error(std::string(op) + ": output " + shape_str(y.shape()) + " does not match bias " +
                shape_str(bias.shape()));
  int64_t rows = y.numel() / cols;
  if (y.device() == Device::CUDA)
    cuda::bias_activation_forward(y.f32(), bias.f32(), rows, cols, act);
  else  // the CPU path: the reference on slices of rows, one per thread
    cpu::parallel_ranges(rows, cols, [&](int64_t begin, int64_t end) {
      ref::bias_activation_forward(y.f32() + begin * cols, bias.f32(), end - begin, cols, act);
    });
}

void bias_activation_backward(const Tensor& y, Tensor& dy, Tensor& dbias, Activation act) {
  const char* op = "bias_activation_backward";
  check_fusable(act, op);
  expect_same_device(op, {&y, &dy, &dbias});
  expect_shape(dy, y.shape(), op, "dy");
  int64_t cols = dbias.numel();
  if (cols == 0 || y.numel() % cols != 0)
    throw Error(std::string(op) + ": output " + shape_str(y.shape()) + " does not match bias " +
                shape_str(dbias.shape()));
  int64_t rows = y.numel() / cols;
  if (y.device() == Device::CUDA)
    cuda::bias_activation_backward(y.f32(), dy.f32(), dbias.f32(), rows, cols, act);
  else
    cpu::bias_activation_backward(y.f32(), dy.f32(), dbias.f32(), rows, cols, act);
}

}  // namespace loom
