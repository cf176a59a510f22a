// ReLU as a layer of its own: y = max(x, 0); dx = dy where y > 0, else 0 (the subgradient at 0 is 0, as in Keras).
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void relu_forward(const Tensor& x, Tensor& y);
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx);

namespace ref {
template <class T>
void relu_forward(const T* x, T* y, int64_t n);
template <class T>
void relu_backward(const T* y, const T* dy, T* dx, int64_t n);
}  // namespace ref

namespace cuda {
void relu_forward(const float* x, float* y, int64_t n);
void relu_backward(const float* y, const float* dy, float* dx, int64_t n);
}  // namespace cuda

}  // namespace loom
