#include "kernels/adam.h"

#include <cmath>

namespace loom {

template <class T>
void ref::adam_advance(T* schedule, T learning_rate, const AdamHyper& hyper) {
  T t = schedule[kAdamStep] + T(1);
  schedule[kAdamStep] = t;
  schedule[kAdamAlpha] = adam_alpha(learning_rate, t, adam_constants<T>(hyper));
}

template <class T>
void ref::adam_update(T* params, const T* grads, T* m, T* v, const T* schedule, const AdamHyper& hyper, int64_t n) {
  const T alpha = schedule[kAdamAlpha];
  const AdamConstants<T> constants = adam_constants<T>(hyper);
  for (int64_t i = 0; i < n; ++i) adam_update_element(params[i], grads[i], m[i], v[i], alpha, constants);
}

template void ref::adam_advance<float>(float*, float, const AdamHyper&);
template void ref::adam_advance<double>(double*, double, const AdamHyper&);
template void ref::adam_update<float>(float*, const float*, float*, float*, const float*, const AdamHyper&, int64_t);
template void ref::adam_update<double>(double*, const double*, double*, double*, const double*, const AdamHyper&,
                                       int64_t);

}  // namespace loom
