#include "kernels/dropout.h"

namespace loom {

template <class T>
void ref::dropout(const T* x, T* y, int64_t n, float rate, PhiloxKey key, int32_t step) {
  const T scale = static_cast<T>(dropout_scale(rate));
  for (int64_t i = 0; i < n; ++i) {
    const PhiloxBlock draw = philox_draw(key, step, static_cast<uint64_t>(i / 4));
    const bool keep = unit_float(draw.word[i % 4]) >= rate;
    y[i] = keep ? x[i] * scale : T(0);
  }
}
template void ref::dropout<float>(const float*, float*, int64_t, float, PhiloxKey, int32_t);
template void ref::dropout<double>(const double*, double*, int64_t, float, PhiloxKey, int32_t);

}  // namespace loom
