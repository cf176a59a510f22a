#include "kernels/dense.h"

namespace loom {

// Loop orders keep the innermost loop running along contiguous rows, so even the reference trains at a usable
// speed on the CPU.
template <class T>
void ref::matmul(const T* x, const T* w, T* y, int64_t n, int64_t in, int64_t out) {
  for (int64_t r = 0; r < n; ++r) {
    T* yr = y + r * out;
    for (int64_t o = 0; o < out; ++o) yr[o] = T(0);
    for (int64_t i = 0; i < in; ++i) {
      const T xi = x[r * in + i];
      const T* wi = w + i * out;
      for (int64_t o = 0; o < out; ++o) yr[o] += xi * wi[o];
    }
  }
}

template <class T>
void ref::matmul_grad_weight(const T* x, const T* dz, T* dw, int64_t n, int64_t in, int64_t out) {
  for (int64_t k = 0; k < in * out; ++k) dw[k] = T(0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < in; ++i) {
      const T xi = x[r * in + i];
      T* dwi = dw + i * out;
      const T* dzr = dz + r * out;
      for (int64_t o = 0; o < out; ++o) dwi[o] += xi * dzr[o];
    }
}

template <class T>
void ref::matmul_grad_input(const T* dz, const T* w, T* dx, int64_t n, int64_t in, int64_t out) {
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < in; ++i) {
      T sum = T(0);
      for (int64_t o = 0; o < out; ++o) sum += dz[r * out + o] * w[i * out + o];
      dx[r * in + i] = sum;
    }
}

#define LOOM_INSTANTIATE(T)                                                                    \
  template void ref::matmul<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);             \
  template void ref::matmul_grad_weight<T>(const T*, const T*, T*, int64_t, int64_t, int64_t); \
  template void ref::matmul_grad_input<T>(const T*, const T*, T*, int64_t, int64_t, int64_t);
LOOM_INSTANTIATE(float)
LOOM_INSTANTIATE(double)
#undef LOOM_INSTANTIATE

}  // namespace loom
