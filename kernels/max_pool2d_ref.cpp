#include "kernels/max_pool2d.h"

#include <cmath>

namespace loom {

namespace {

// Index into x of the window's maximum for output (n, i, j, c). Scanning in row-major window order and replacing
// only on a strictly greater value picks the first maximum on a tie, the element TensorFlow routes the gradient to.
template <class T>
int64_t argmax_in_window(const T* x, const MaxPool2dGeometry& g, int64_t n, int64_t i, int64_t j, int64_t c) {
  int64_t best = -1;
  for (int64_t a = 0; a < g.pool_h; ++a)
    for (int64_t b = 0; b < g.pool_w; ++b) {
      const int64_t h = i * g.stride_h + a, w = j * g.stride_w + b;
      const int64_t k = ((n * g.height + h) * g.width + w) * g.channels + c;
      // A NaN wins its window and keeps it (cuDNN's PROPAGATE_NAN), so a diverged model shows as NaN.
      if (best < 0 || (!std::isnan(x[best]) && !(x[k] <= x[best]))) best = k;
    }
  return best;
}

}  // namespace

template <class T>
void ref::max_pool2d_forward(const T* x, T* y, const MaxPool2dGeometry& g) {
  const int64_t oh = g.out_height(), ow = g.out_width();
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t c = 0; c < g.channels; ++c)
          y[((n * oh + i) * ow + j) * g.channels + c] = x[argmax_in_window(x, g, n, i, j, c)];
}

// The derivative of a max is 1 at the chosen maximum and 0 elsewhere; overlapping windows (stride < pool) may
// choose the same element, so contributions add.
template <class T>
void ref::max_pool2d_backward(const T* x, const T* dy, T* dx, const MaxPool2dGeometry& g) {
  const int64_t oh = g.out_height(), ow = g.out_width();
  const int64_t dx_size = g.batch * g.height * g.width * g.channels;
  for (int64_t k = 0; k < dx_size; ++k) dx[k] = T(0);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t c = 0; c < g.channels; ++c)
          dx[argmax_in_window(x, g, n, i, j, c)] += dy[((n * oh + i) * ow + j) * g.channels + c];
}

#define LOOM_INSTANTIATE(T)                                                         \
  template void ref::max_pool2d_forward<T>(const T*, T*, const MaxPool2dGeometry&); \
  template void ref::max_pool2d_backward<T>(const T*, const T*, T*, const MaxPool2dGeometry&);
LOOM_INSTANTIATE(float)
LOOM_INSTANTIATE(double)
#undef LOOM_INSTANTIATE

}  // namespace loom
