#include "kernels/batch_norm.h"

#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/plan_check.h"

namespace loom {
namespace {

int64_t channels_of(const Tensor& x, const char* op) {
  if (x.rank() < 2 || x.dim(x.rank() - 1) <= 0)
    throw Error(std::string(op) + ": expects a batch [rows, ..., channels], got " + shape_str(x.shape()));
  if (x.dtype() != DType::F32) throw Error(std::string(op) + ": expects float32 tensors");
  return x.dim(x.rank() - 1);
}

void expect_channel_vectors(const char* op, int64_t c,
                            std::initializer_list<std::pair<const Tensor*, const char*>> vectors) {
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
  expect_channel_vectors(op, c,
                         {{&gamma, "gamma"},
                          {&beta, "beta"},
                          {&moving_mean, "moving mean"},
                          {&moving_var, "moving variance"},
                          {&mean, "batch mean"},
                          {&inv_std, "inv_std"}});
  expect_same_device(op, {&x, &gamma, &beta, &y, &moving_mean, &moving_var, &mean, &inv_std});
  if (x.device() == Device::CUDA) {
    plan_for(x, c, plan, op)
        .forward_training(x.f32(), gamma.f32(), beta.f32(), y.f32(), mean.f32(), inv_std.f32(), settings.epsilon);
    cuda::update_moving_statistics(moving_mean.f32(), moving_var.f32(), mean.f32(), inv_std.f32(), c, settings.momentum,
                                   settings.epsilon);
    return;
  }
  ref::batch_norm_forward_training(x.f32(), gamma.f32(), beta.f32(), y.f32(), moving_mean.f32(), moving_var.f32(),
                                   mean.f32(), inv_std.f32(), x.numel() / c, c, settings);
}

void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                                  const Tensor& moving_var, Tensor& y, const BatchNormSettings& settings,
                                  const cuda::BatchNormPlan* plan) {
  const char* op = "batch_norm_forward_inference";
  const int64_t c = channels_of(x, op);
  expect_shape(y, x.shape(), op, "output");
  expect_channel_vectors(
      op, c, {{&gamma, "gamma"}, {&beta, "beta"}, {&moving_mean, "moving mean"}, {&moving_var, "moving variance"}});
  expect_same_device(op, {&x, &gamma, &beta, &moving_mean, &moving_var, &y});
  if (x.device() == Device::CUDA) {
    plan_for(x, c, plan, op)
        .forward_inference(x.f32(), gamma.f32(), beta.f32(), moving_mean.f32(), moving_var.f32(), y.f32(),
                           settings.epsilon);
    return;
  }
  ref::batch_norm_forward_inference(x.f32(), gamma.f32(), beta.f32(), moving_mean.f32(), moving_var.f32(), y.f32(),
                                    x.numel() / c, c, settings);
}

void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                         const Tensor& dy, Tensor* dx, Tensor& dgamma, Tensor& dbeta, const BatchNormSettings& settings,
                         const cuda::BatchNormPlan* plan) {
  const char* op = "batch_norm_backward";
  const int64_t c = channels_of(x, op);
  expect_shape(dy, x.shape(), op, "output gradient");
  if (dx) expect_shape(*dx, x.shape(), op, "input gradient");
  expect_channel_vectors(op, c,
                         {{&gamma, "gamma"},
                          {&mean, "batch mean"},
                          {&inv_std, "inv_std"},
                          {&dgamma, "gamma gradient"},
                          {&dbeta, "beta gradient"}});
  expect_same_device(op, {&x, &gamma, &mean, &inv_std, &dy, &dgamma, &dbeta});
  if (dx) expect_same_device(op, {&x, dx});
  if (x.device() == Device::CUDA) {
    if (!dx) throw Error("batch_norm_backward: cuDNN needs an input gradient to write");
    plan_for(x, c, plan, op)
        .backward(x.f32(), gamma.f32(), mean.f32(), inv_std.f32(), dy.f32(), dx->f32(), dgamma.f32(), dbeta.f32(),
                  settings.epsilon);
    return;
  }
  ref::batch_norm_backward(x.f32(), gamma.f32(), mean.f32(), inv_std.f32(), dy.f32(), dx ? dx->f32() : nullptr,
                           dgamma.f32(), dbeta.f32(), x.numel() / c, c);
}

}  // namespace loom
