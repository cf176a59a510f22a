#include "kernels/cross_entropy.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/totals.h"

namespace loom {

void cross_entropy_probabilities(const Tensor& probs, const Tensor& labels, Tensor* dprobs, float grad_scale,
                                 Tensor* totals) {
  check_loss_arguments("cross_entropy_probabilities", probs, labels, dprobs, totals);
  int64_t rows = probs.dim(0), classes = probs.dim(1);
  float* dp = dprobs ? dprobs->f32() : nullptr;
  if (probs.device() == Device::CUDA) {
    cuda::cross_entropy_probabilities(probs.f32(), labels.data<int32_t>(), dp, grad_scale,
                                      totals ? totals->f32() : nullptr, rows, classes);
  } else {
    float* t = totals ? totals->f32() : nullptr;
    ref::cross_entropy_probabilities(probs.f32(), labels.data<int32_t>(), dp, grad_scale, t ? t + kLossSum : nullptr,
                                     t ? t + kCorrectCount : nullptr, rows, classes);
  }
}

}  // namespace loom
