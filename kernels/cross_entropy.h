// Sparse categorical cross-entropy on probabilities (Keras's from_logits=false when the model's output is not a
// softmax the loss can fuse with). Probabilities are clipped to [epsilon, 1 - epsilon] as Keras does, and the
// gradient is zero where the clip is active.
//   totals[loss]    += Σ_r -log clip(probs[r, label[r]])
//   totals[correct] += #{r : argmax probs[r] == label[r]}
//   dprobs[r, j]     = j == label[r] ? -grad_scale / probs[r, j] : 0
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

constexpr float kProbabilityEpsilon = 1e-7f;  // Keras's backend epsilon

void cross_entropy_probabilities(const Tensor& probs, const Tensor& labels, Tensor* dprobs, float grad_scale,
                                 Tensor* totals);

namespace ref {
template <class T>
void cross_entropy_probabilities(const T* probs, const int32_t* labels, T* dprobs, T grad_scale, T* loss_sum,
                                 T* correct, int64_t rows, int64_t classes);
}  // namespace ref

namespace cuda {
void cross_entropy_probabilities(const float* probs, const int32_t* labels, float* dprobs, float grad_scale,
                                 float* totals, int64_t rows, int64_t classes);
}  // namespace cuda

}  // namespace loom
