// The epilogue shared by Dense and Conv2D (channels-last): a per-column bias and an optional ReLU, in one pass.
//   forward:  y[r, c] = act(y[r, c] + b[c])                      (y holds x·W on entry)
//   backward: dz[r, c] = dy[r, c] · act'(y)  (in place, dy := dz);  db[c] = Σ_r dz[r, c]
// y and dy are viewed as [rows, cols] with cols = the bias length.
#pragma once

#include <cstdint>

#include "kernels/activation.h"

namespace loom {

class Tensor;

void bias_activation_forward(Tensor& y, const Tensor& bias, Activation act);
void bias_activation_backward(const Tensor& y, Tensor& dy, Tensor& dbias, Activation act);

namespace ref {
template <class T>
void bias_activation_forward(T* y, const T* bias, int64_t rows, int64_t cols, Activation act);
template <class T>
void bias_activation_backward(const T* y, T* dy, T* dbias, int64_t rows, int64_t cols, Activation act);
}  // namespace ref

// The CPU path's backward (the forward is the reference on slices): the mask by slices, then each thread sums its own
// columns, over the rows in order (kernels/bias_activation_cpu.cpp).
namespace cpu {
void bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols, Activation act);
}  // namespace cpu

namespace cuda {
void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols, Activation act);
void bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols, Activation act);
}  // namespace cuda

}  // namespace loom
