#include "kernels/softmax.h"

#include <algorithm>
#include <cmath>

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

}  // namespace loom
