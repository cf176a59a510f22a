#include "kernels/batch_norm.h"

#include <algorithm>
#include <cmath>

namespace loom {

namespace {

// Channels are summed over the rows in blocks of this many, accumulated in double on the stack: rows stay in
// order (the sums do not depend on how the work is cut) and a step allocates nothing.
constexpr int64_t kChannelBlock = 16;

// acc[j] = Σ_r term(r, k0 + j) for the channels of one block.
template <class Term>
void sum_rows(int64_t m, int64_t k0, int64_t width, double* acc, Term term) {
  std::fill(acc, acc + width, 0.0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < width; ++j) acc[j] += term(r, k0 + j);
}

}  // namespace

template <class T>
void ref::batch_norm_forward_training(const T* x, const T* gamma, const T* beta, T* y, T* moving_mean, T* moving_var,
                                      T* mean, T* inv_std, int64_t m, int64_t c, const BatchNormSettings& settings) {
  const double momentum = settings.momentum;
  for (int64_t k0 = 0; k0 < c; k0 += kChannelBlock) {
    const int64_t width = std::min(kChannelBlock, c - k0);
    double sum[kChannelBlock], mu[kChannelBlock], squares[kChannelBlock];
    sum_rows(m, k0, width, sum, [&](int64_t r, int64_t k) { return static_cast<double>(x[r * c + k]); });
    for (int64_t j = 0; j < width; ++j) mu[j] = sum[j] / static_cast<double>(m);
    sum_rows(m, k0, width, squares, [&](int64_t r, int64_t k) {
      const double d = static_cast<double>(x[r * c + k]) - mu[k - k0];
      return d * d;
    });
    for (int64_t j = 0; j < width; ++j) {
      const int64_t k = k0 + j;
      const double variance = squares[j] / static_cast<double>(m);
      mean[k] = static_cast<T>(mu[j]);
      inv_std[k] = static_cast<T>(1.0 / std::sqrt(variance + static_cast<double>(settings.epsilon)));
      moving_mean[k] = static_cast<T>(moving_mean[k] * momentum + mu[j] * (1.0 - momentum));
      moving_var[k] = static_cast<T>(moving_var[k] * momentum + variance * (1.0 - momentum));
    }
  }
  for (int64_t r = 0; r < m; ++r)
    for (int64_t k = 0; k < c; ++k) y[r * c + k] = gamma[k] * (x[r * c + k] - mean[k]) * inv_std[k] + beta[k];
}

template <class T>
void ref::batch_norm_forward_inference(const T* x, const T* gamma, const T* beta, const T* moving_mean,
                                       const T* moving_var, T* y, int64_t m, int64_t c,
                                       const BatchNormSettings& settings) {
  for (int64_t k0 = 0; k0 < c; k0 += kChannelBlock) {
    const int64_t width = std::min(kChannelBlock, c - k0);
    T inv_std[kChannelBlock];
    for (int64_t j = 0; j < width; ++j)
      inv_std[j] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(moving_var[k0 + j]) + settings.epsilon));
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t k = k0 + j;
        y[r * c + k] = gamma[k] * (x[r * c + k] - moving_mean[k]) * inv_std[j] + beta[k];
      }
  }
}

template <class T>
void ref::batch_norm_backward(const T* x, const T* gamma, const T* mean, const T* inv_std, const T* dy, T* dx,
                              T* dgamma, T* dbeta, int64_t m, int64_t c) {
  for (int64_t k0 = 0; k0 < c; k0 += kChannelBlock) {
    const int64_t width = std::min(kChannelBlock, c - k0);
    double sum_dy[kChannelBlock], sum_dy_xhat[kChannelBlock];
    sum_rows(m, k0, width, sum_dy, [&](int64_t r, int64_t k) { return static_cast<double>(dy[r * c + k]); });
    sum_rows(m, k0, width, sum_dy_xhat, [&](int64_t r, int64_t k) {
      const double xhat = (static_cast<double>(x[r * c + k]) - mean[k]) * inv_std[k];
      return static_cast<double>(dy[r * c + k]) * xhat;
    });
    for (int64_t j = 0; j < width; ++j) {
      dbeta[k0 + j] = static_cast<T>(sum_dy[j]);
      dgamma[k0 + j] = static_cast<T>(sum_dy_xhat[j]);
    }
  }
  if (!dx) return;
  const double rows = static_cast<double>(m);
  for (int64_t k0 = 0; k0 < c; k0 += kChannelBlock) {
    const int64_t width = std::min(kChannelBlock, c - k0);
    double scale[kChannelBlock];  // γ · inv_std / m
    for (int64_t j = 0; j < width; ++j) scale[j] = static_cast<double>(gamma[k0 + j]) * inv_std[k0 + j] / rows;
    for (int64_t r = 0; r < m; ++r)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t k = k0 + j;
        const double xhat = (static_cast<double>(x[r * c + k]) - mean[k]) * inv_std[k];
        dx[r * c + k] = static_cast<T>(scale[j] * (rows * dy[r * c + k] - dbeta[k] - xhat * dgamma[k]));
      }
  }
}

#define LOOM_INSTANTIATE_BATCH_NORM(T)                                                                              \
  template void ref::batch_norm_forward_training<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*, int64_t,      \
                                                    int64_t, const BatchNormSettings&);                             \
  template void ref::batch_norm_forward_inference<T>(const T*, const T*, const T*, const T*, const T*, T*, int64_t, \
                                                     int64_t, const BatchNormSettings&);                            \
  template void ref::batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*, int64_t,  \
                                            int64_t);
LOOM_INSTANTIATE_BATCH_NORM(float)
LOOM_INSTANTIATE_BATCH_NORM(double)
#undef LOOM_INSTANTIATE_BATCH_NORM

}  // namespace loom
