#include "kernels/softmax_cross_entropy.h"

#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/totals.h"

namespace loom {

void check_loss_arguments(const char* op, const Tensor& scores, const Tensor& labels, const Tensor* grad,
                          const Tensor* totals) {
  if (scores.rank() != 2 || scores.dim(1) == 0)
    throw Error(std::string(op) + ": scores must be [batch, classes], got " + shape_str(scores.shape()));
  if (labels.dtype() != DType::I32) throw Error(std::string(op) + ": labels must be int32");
  expect_shape(labels, {scores.dim(0)}, op, "labels");
  expect_same_device(op, {&scores, &labels});
  if (grad) {
    expect_shape(*grad, scores.shape(), op, "gradient");
    expect_same_device(op, {&scores, grad});
  }
  if (totals) {
    expect_shape(*totals, {kTotalsSlots}, op, "totals");
    expect_same_device(op, {&scores, totals});
  }
}

void softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor* dlogits, float grad_scale,
                           Tensor* totals) {
  const char* op = "softmax_cross_entropy";
  check_loss_arguments(op, logits, labels, dlogits, totals);
  expect_shape(probs, logits.shape(), op, "probabilities");
  int64_t rows = logits.dim(0), classes = logits.dim(1);
  float* dz = dlogits ? dlogits->f32() : nullptr;
  if (logits.device() == Device::CUDA) {
    cuda::softmax_cross_entropy(logits.f32(), labels.data<int32_t>(), probs.f32(), dz, grad_scale,
                                totals ? totals->f32() : nullptr, rows, classes);
  } else {
    float* t = totals ? totals->f32() : nullptr;
    ref::softmax_cross_entropy(logits.f32(), labels.data<int32_t>(), probs.f32(), dz, grad_scale,
                               t ? t + kLossSum : nullptr, t ? t + kCorrectCount : nullptr, rows, classes);
  }
}

}  // namespace loom
