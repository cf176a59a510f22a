#include "kernels/softmax_cross_entropy.h"

#include <cmath>
#include <string>

#include "engine/runtime/errors.h"

namespace loom {

int32_t ref::checked_label(const int32_t* labels, int64_t r, int64_t classes, const char* op) {
  const int32_t label = labels[r];
  if (label < 0 || label >= classes)
    throw Error(std::string(op) + ": label " + std::to_string(label) + " of row " + std::to_string(r) +
                " is outside [0, " + std::to_string(classes) + ")");
  return label;
}

template <class T>
void ref::softmax_cross_entropy(const T* logits, const int32_t* labels, T* probs, T* dlogits, T grad_scale, T* loss_sum,
                                T* correct, int64_t rows, int64_t classes) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* z = logits + r * classes;
    const int32_t label = checked_label(labels, r, classes, "softmax_cross_entropy");
    const int64_t argmax = row_argmax(z, classes);
    T max = z[argmax];
    T sum = T(0);
    for (int64_t j = 0; j < classes; ++j) sum += std::exp(z[j] - max);
    T log_sum = std::log(sum);
    T label_logit = z[label];
    if (loss_sum) *loss_sum += log_sum + max - label_logit;
    if (correct && argmax == label) *correct += T(1);
    for (int64_t j = 0; j < classes; ++j) {
      T p = std::exp(z[j] - max - log_sum);
      probs[r * classes + j] = p;  // z may alias probs: z[j] is not read again after this
      if (dlogits) dlogits[r * classes + j] = (p - (j == label ? T(1) : T(0))) * grad_scale;
    }
  }
}

template void ref::softmax_cross_entropy<float>(const float*, const int32_t*, float*, float*, float, float*, float*,
                                                int64_t, int64_t);
template void ref::softmax_cross_entropy<double>(const double*, const int32_t*, double*, double*, double, double*,
                                                 double*, int64_t, int64_t);

}  // namespace loom
