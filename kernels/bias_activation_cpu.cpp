#include "kernels/bias_activation.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::None: return "linear";
    case Activation::ReLU: return "relu";
    case Activation::Softmax: return "softmax";
  }
  return "?";
}

namespace {
void check_fusable(Activation act, const char* op) {
  if (act == Activation::Softmax)
    throw Error(std::string(op) + ": softmax is a row operation and cannot be fused into a bias epilogue");
}
}  // namespace

template <class T>
void ref::bias_activation_forward(T* y, const T* bias, int64_t rows, int64_t cols, Activation act) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      T v = y[r * cols + c] + bias[c];
      if (act == Activation::ReLU && v < T(0)) v = T(0);
      y[r * cols + c] = v;
    }
}

template <class T>
void ref::bias_activation_backward(const T* y, T* dy, T* dbias, int64_t rows, int64_t cols, Activation act) {
  for (int64_t c = 0; c < cols; ++c) dbias[c] = T(0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      T g = dy[r * cols + c];
      if (act == Activation::ReLU && !(y[r * cols + c] > T(0))) g = T(0);
      dy[r * cols + c] = g;
      dbias[c] += g;
    }
}

template void ref::bias_activation_forward<float>(float*, const float*, int64_t, int64_t, Activation);
template void ref::bias_activation_forward<double>(double*, const double*, int64_t, int64_t, Activation);
template void ref::bias_activation_backward<float>(const float*, float*, float*, int64_t, int64_t, Activation);
template void ref::bias_activation_backward<double>(const double*, double*, double*, int64_t, int64_t, Activation);

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
  else
    ref::bias_activation_forward(y.f32(), bias.f32(), rows, cols, act);
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
    ref::bias_activation_backward(y.f32(), dy.f32(), dbias.f32(), rows, cols, act);
}

}  // namespace loom
