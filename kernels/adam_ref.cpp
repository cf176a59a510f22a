#include "kernels/adam.h"

#include <cmath>

namespace loom {

template <class T>
void ref::adam_advance(T* schedule, T learning_rate, const AdamHyper& hyper) {
  T t = schedule[kAdamStep] + T(1);
  schedule[kAdamStep] = t;
  schedule[kAdamAlpha] =
      learning_rate * std::sqrt(T(1) - std::pow(T(hyper.beta2), t)) / (T(1) - std::pow(T(hyper.beta1), t));
}

template <class T>
void ref::adam_update(T* params, const T* grads, T* m, T* v, const T* schedule, const AdamHyper& hyper, int64_t n) {
  const T alpha = schedule[kAdamAlpha];
  const T b1 = T(hyper.beta1), b2 = T(hyper.beta2), eps = T(hyper.epsilon);
  for (int64_t i = 0; i < n; ++i) adam_update_element(params[i], grads[i], m[i], v[i], alpha, b1, b2, eps);
}

template void ref::adam_advance<float>(float*, float, const AdamHyper&);
template void ref::adam_advance<double>(double*, double, const AdamHyper&);
template void ref::adam_update<float>(float*, const float*, float*, float*, const float*, const AdamHyper&, int64_t);
template void ref::adam_update<double>(double*, const double*, double*, double*, const double*, const AdamHyper&,
                                       int64_t);

}  // namespace loom
