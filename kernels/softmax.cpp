#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

template <class T>
void ref::softmax_forward(const T* x, T* y, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    T max = *std::max_element(xr, xr + cols);
    T sum = T(0);
    for (int64_t j = 0; j < cols; ++j) {
      yr[j] = std::exp(xr[j] - max);
      sum += yr[j];
    }
    for (int64_t j = 0; j < cols; ++j) yr[j] /= sum;
  }
}

template <class T>
void ref::softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* yr = y + r * cols;
    const T* dyr = dy + r * cols;
    T dot = T(0);
    for (int64_t j = 0; j < cols; ++j) dot += dyr[j] * yr[j];
    for (int64_t j = 0; j < cols; ++j) dx[r * cols + j] = yr[j] * (dyr[j] - dot);
  }
}

template void ref::softmax_forward<float>(const float*, float*, int64_t, int64_t);
template void ref::softmax_forward<double>(const double*, double*, int64_t, int64_t);
template void ref::softmax_backward<float>(const float*, const float*, float*, int64_t, int64_t);
template void ref::softmax_backward<double>(const double*, const double*, double*, int64_t, int64_t);

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
