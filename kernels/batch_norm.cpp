#include <algorithm>
#include <cmath>
#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/batch_norm.h"
#include "kernels/plan_check.h"

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
void ref::batch_norm_forward_training(const T* x, const T* gamma, const T* beta, T* y, T* moving_mean,
                                      T* moving_var, T* mean, T* inv_std, int64_t m, int64_t c,
                                      const BatchNormSettings& settings) {
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

#define LOOM_INSTANTIATE_BATCH_NORM(T)                                                                            \
  template void ref::batch_norm_forward_training<T>(const T*, const T*, const T*, T*, T*, T*, T*, T*, int64_t,   \
                                                    int64_t, const BatchNormSettings&);                          \
  template void ref::batch_norm_forward_inference<T>(const T*, const T*, const T*, const T*, const T*, T*,       \
                                                     int64_t, int64_t, const BatchNormSettings&);                \
  template void ref::batch_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,        \
                                            int64_t, int64_t);
LOOM_INSTANTIATE_BATCH_NORM(float)
LOOM_INSTANTIATE_BATCH_NORM(double)
#undef LOOM_INSTANTIATE_BATCH_NORM

namespace {

int64_t channels_of(const Tensor& x, const char* op) {
  if (x.rank() < 2 || x.dim(x.rank() - 1) <= 0)
    throw Error(std::string(op) + ": expects a batch [rows, ..., channels], got " + shape_str(x.shape()));
  if (x.dtype() != DType::F32) throw Error(std::string(op) + ": expects float32 tensors");
  return x.dim(x.rank() - 1);
}

void expect_channel_vectors(const char* op, int64_t c, std::initializer_list<std::pair<const Tensor*, const char*>>
                                                           vectors) {
  for (const auto& [t, name] : vectors) {
    expect_shape(*t, {c}, op, name);
    if (t->dtype() != DType::F32) throw Error(std::string(op) + ": " + name + " must be float32");
  }
}

std::string geometry_str(const BatchNormGeometry& g) {
  return "a batch of " + std::to_string(g.batch) + " samples of " + std::to_string(g.pixels) + " positions of " +
         std::to_string(g.channels) + " channels";
}

// x's geometry: its first axis the batch, its last the channels, the axes between the positions of a sample.
const cuda::BatchNormPlan& plan_for(const Tensor& x, int64_t c, const cuda::BatchNormPlan* plan, const char* op) {
  const BatchNormGeometry g{x.dim(0), x.dim(0) > 0 ? x.numel() / (x.dim(0) * c) : 0, c};
  return checked_plan(plan, g, op, "BatchNormPlan", geometry_str);
}

}  // namespace

void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                 Tensor& moving_mean, Tensor& moving_var, Tensor& mean, Tensor& inv_std,
                                 const BatchNormSettings& settings, const cuda::BatchNormPlan* plan) {
  const char* op = "batch_norm_forward_training";
  const int64_t c = channels_of(x, op);
  expect_shape(y, x.shape(), op, "output");
  expect_channel_vectors(op, c, {{&gamma, "gamma"}, {&beta, "beta"}, {&moving_mean, "moving mean"},
                                 {&moving_var, "moving variance"}, {&mean, "batch mean"}, {&inv_std, "inv_std"}});
  expect_same_device(op, {&x, &gamma, &beta, &y, &moving_mean, &moving_var, &mean, &inv_std});
  if (x.device() == Device::CUDA) {
    plan_for(x, c, plan, op).forward_training(x.f32(), gamma.f32(), beta.f32(), y.f32(), mean.f32(), inv_std.f32(),
                                              settings.epsilon);
    cuda::update_moving_statistics(moving_mean.f32(), moving_var.f32(), mean.f32(), inv_std.f32(), c,
                                   settings.momentum, settings.epsilon);
    return;
  }
  ref::batch_norm_forward_training(x.f32(), gamma.f32(), beta.f32(), y.f32(), moving_mean.f32(), moving_var.f32(),
                                   mean.f32(), inv_std.f32(), x.numel() / c, c, settings);
}

void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& moving_mean, const Tensor& moving_var, Tensor& y,
                                  const BatchNormSettings& settings, const cuda::BatchNormPlan* plan) {
  const char* op = "batch_norm_forward_inference";
  const int64_t c = channels_of(x, op);
  expect_shape(y, x.shape(), op, "output");
  expect_channel_vectors(op, c, {{&gamma, "gamma"}, {&beta, "beta"}, {&moving_mean, "moving mean"},
                                 {&moving_var, "moving variance"}});
  expect_same_device(op, {&x, &gamma, &beta, &moving_mean, &moving_var, &y});
  if (x.device() == Device::CUDA) {
    plan_for(x, c, plan, op).forward_inference(x.f32(), gamma.f32(), beta.f32(), moving_mean.f32(),
                                               moving_var.f32(), y.f32(), settings.epsilon);
    return;
  }
  ref::batch_norm_forward_inference(x.f32(), gamma.f32(), beta.f32(), moving_mean.f32(), moving_var.f32(), y.f32(),
                                    x.numel() / c, c, settings);
}

void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                         const Tensor& dy, Tensor* dx, Tensor& dgamma, Tensor& dbeta,
                         const BatchNormSettings& settings, const cuda::BatchNormPlan* plan) {
  const char* op = "batch_norm_backward";
  const int64_t c = channels_of(x, op);
  expect_shape(dy, x.shape(), op, "output gradient");
  if (dx) expect_shape(*dx, x.shape(), op, "input gradient");
  expect_channel_vectors(op, c, {{&gamma, "gamma"}, {&mean, "batch mean"}, {&inv_std, "inv_std"},
                                 {&dgamma, "gamma gradient"}, {&dbeta, "beta gradient"}});
  expect_same_device(op, {&x, &gamma, &mean, &inv_std, &dy, &dgamma, &dbeta});
  if (dx) expect_same_device(op, {&x, dx});
  if (x.device() == Device::CUDA) {
    if (!dx) throw Error("batch_norm_backward: cuDNN needs an input gradient to write");
    plan_for(x, c, plan, op).backward(x.f32(), gamma.f32(), mean.f32(), inv_std.f32(), dy.f32(), dx->f32(),
                                      dgamma.f32(), dbeta.f32(), settings.epsilon);
    return;
  }
  ref::batch_norm_backward(x.f32(), gamma.f32(), mean.f32(), inv_std.f32(), dy.f32(), dx ? dx->f32() : nullptr,
                           dgamma.f32(), dbeta.f32(), x.numel() / c, c);
}

}  // namespace loom
