#include "kernels/sgd.h"

namespace loom {

template <class T>
void ref::sgd_update(T* params, const T* grads, T learning_rate, int64_t n) {
  for (int64_t i = 0; i < n; ++i) params[i] -= learning_rate * grads[i];
}

template void ref::sgd_update<float>(float*, const float*, float, int64_t);
template void ref::sgd_update<double>(double*, const double*, double, int64_t);

}  // namespace loom
