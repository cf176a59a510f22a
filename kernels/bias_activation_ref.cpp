#include "kernels/bias_activation.h"

namespace loom {

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

}  // namespace loom
