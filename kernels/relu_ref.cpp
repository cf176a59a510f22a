#include "kernels/relu.h"

namespace loom {

template <class T>
void ref::relu_forward(const T* x, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
void ref::relu_backward(const T* y, const T* dy, T* dx, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const T g = dy[i];  // read unconditionally so the compiler can vectorise the select instead of branching
    dx[i] = y[i] > T(0) ? g : T(0);
  }
}

template void ref::relu_forward<float>(const float*, float*, int64_t);
template void ref::relu_forward<double>(const double*, double*, int64_t);
template void ref::relu_backward<float>(const float*, const float*, float*, int64_t);
template void ref::relu_backward<double>(const double*, const double*, double*, int64_t);

}  // namespace loom
