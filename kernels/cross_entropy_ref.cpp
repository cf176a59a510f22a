#include "kernels/cross_entropy.h"

#include <cmath>

#include "kernels/softmax_cross_entropy.h"  // checked_label, row_argmax

namespace loom {

template <class T>
void ref::cross_entropy_probabilities(const T* probs, const int32_t* labels, T* dprobs, T grad_scale, T* loss_sum,
                                      T* correct, int64_t rows, int64_t classes) {
  const T lo = T(kProbabilityEpsilon), hi = T(1) - T(kProbabilityEpsilon);
  for (int64_t r = 0; r < rows; ++r) {
    const T* p = probs + r * classes;
    const int32_t label = checked_label(labels, r, classes, "cross_entropy_probabilities");
    const int64_t argmax = row_argmax(p, classes);
    T pl = p[label];
    T clipped = pl < lo ? lo : (pl > hi ? hi : pl);
    if (loss_sum) *loss_sum += -std::log(clipped);
    if (correct && argmax == label) *correct += T(1);
    if (dprobs)
      for (int64_t j = 0; j < classes; ++j)
        dprobs[r * classes + j] = (j == label && pl >= lo && pl <= hi) ? -grad_scale / pl : T(0);
  }
}

template void ref::cross_entropy_probabilities<float>(const float*, const int32_t*, float*, float, float*, float*,
                                                      int64_t, int64_t);
template void ref::cross_entropy_probabilities<double>(const double*, const int32_t*, double*, double, double*, double*,
                                                       int64_t, int64_t);

}  // namespace loom
