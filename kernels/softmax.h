// Row-wise softmax over the last dimension, computed stably (the row maximum is subtracted first).
//   forward:  y[r, j] = exp(x[r, j] - max_r) / Σ_k exp(x[r, k] - max_r)      (y may alias x)
//   backward: dx[r, j] = y[r, j] · (dy[r, j] - Σ_k dy[r, k] · y[r, k])      (dx may alias dy)
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void softmax_forward(const Tensor& x, Tensor& y);
void softmax_backward(const Tensor& y, const Tensor& dy, Tensor& dx);

namespace ref {
template <class T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols);
template <class T>
void softmax_backward(const T* y, const T* dy, T* dx, int64_t rows, int64_t cols);
}  // namespace ref

namespace cuda {
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols);
}  // namespace cuda

}  // namespace loom
