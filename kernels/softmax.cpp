#include "kernels/softmax.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

namespace {
void rows_cols(const Tensor& t, int64_t& rows, int64_t& cols, const char* op) {
  if (t.rank() < 1 || t.shape().back() == 0)
    throw Error(std::string(op) + ": needs at least one class, got shape " + shape_str(t.shape()));
  cols = t.shape().back();
  rows = t.numel() / cols;
}
}  // namespace

void softmax_forward(const Tensor& x, Tensor& y) {
  const char* op = "softmax_forward";
  expect_shape(y, x.shape(), op, "output");
  expect_same_device(op, {&x, &y});
  int64_t rows, cols;
  rows_cols(x, rows, cols, op);
  if (x.device() == Device::CUDA)
    cuda::softmax_forward(x.f32(), y.f32(), rows, cols);
  else
    ref::softmax_forward(x.f32(), y.f32(), rows, cols);
}

void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  const char* op = "softmax_backward";
  expect_shape(dy, y.shape(), op, "dy");
  expect_shape(dx, y.shape(), op, "dx");
  expect_same_device(op, {&y, &dy, &dx});
  int64_t rows, cols;
  rows_cols(y, rows, cols, op);
  if (y.device() == Device::CUDA)
    cuda::softmax_backward(y.f32(), dy.f32(), dx.f32(), rows, cols);
  else
    ref::softmax_backward(y.f32(), dy.f32(), dx.f32(), rows, cols);
}

}  // namespace loom
