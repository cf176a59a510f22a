// Fused softmax + sparse categorical cross-entropy on logits, the loss of both tutorial models: the MLP's logits
// (from_logits=true) and the CNN's softmax output, whose softmax the model hands to this op instead of running it
// itself (so the backward pass never divides by a probability).
//   probs[r]       = softmax(logits[r])                                  (probs may alias logits)
//   totals[loss]  += Σ_r -log probs[r, label[r]]  = Σ_r logsumexp(logits[r]) - logits[r, label[r]]
//   totals[correct] += #{r : argmax logits[r] == label[r]}
//   dlogits[r, j]  = (probs[r, j] - [j == label[r]]) · grad_scale        (grad_scale = 1/batch for a mean loss)
// dlogits and totals are optional. Labels are int32 in [0, classes); on the CPU an out-of-range label throws, on the
// GPU it makes the row's loss NaN.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void softmax_cross_entropy(const Tensor& logits, const Tensor& labels, Tensor& probs, Tensor* dlogits, float grad_scale,
                           Tensor* totals);

namespace ref {
// What both loss references share: the label of row r, checked to lie in [0, classes) (throws naming `op`), and the
// index of a row's largest value (the first one on ties, as argmax does).
int32_t checked_label(const int32_t* labels, int64_t r, int64_t classes, const char* op);
template <class T>
int64_t row_argmax(const T* row, int64_t classes) {
  int64_t best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// loss_sum and correct, when given, are added to.
template <class T>
void softmax_cross_entropy(const T* logits, const int32_t* labels, T* probs, T* dlogits, T grad_scale, T* loss_sum,
                           T* correct, int64_t rows, int64_t classes);
}  // namespace ref

namespace cuda {
void softmax_cross_entropy(const float* logits, const int32_t* labels, float* probs, float* dlogits, float grad_scale,
                           float* totals, int64_t rows, int64_t classes);
}  // namespace cuda

// Shared argument checks for the loss ops: logits/probs [rows, classes], labels int32 [rows], totals [2].
void check_loss_arguments(const char* op, const Tensor& scores, const Tensor& labels, const Tensor* grad,
                          const Tensor* totals);

}  // namespace loom
