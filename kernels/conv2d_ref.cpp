#include "kernels/conv2d.h"

#include <vector>

#include "kernels/dense.h"
#include "kernels/im2col.h"

namespace loom {

namespace {

struct ConvMatrixDims {
  int64_t rows, k, out;  // R = n·oh·ow, K = kh·kw·in, out channels
};

ConvMatrixDims matrix_dims(const Conv2dGeometry& g) {
  return {g.batch * g.out_height() * g.out_width(), g.kernel_h * g.kernel_w * g.in_channels, g.out_channels};
}

}  // namespace

// y[R, out] = cols[R, K] · Wᵀ. ref::matmul wants its right operand as [K, out] so that its inner loop runs along
// contiguous output channels; transposing the (small) kernel once is cheaper than a strided inner loop.
template <class T>
void ref::conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g) {
  const ConvMatrixDims d = matrix_dims(g);
  std::vector<T> cols(static_cast<size_t>(d.rows * d.k));
  ref::im2col(x, cols.data(), g);
  std::vector<T> wt(static_cast<size_t>(d.k * d.out));
  for (int64_t o = 0; o < d.out; ++o)
    for (int64_t k = 0; k < d.k; ++k) wt[k * d.out + o] = w[o * d.k + k];
  ref::matmul(cols.data(), wt.data(), y, d.rows, d.k, d.out);
}

// dcols[R, K] = dy[R, out] · W[out, K], then each column entry is returned to its input pixel.
template <class T>
void ref::conv2d_backward_data(const T* dy, const T* w, T* dx, const Conv2dGeometry& g) {
  const ConvMatrixDims d = matrix_dims(g);
  std::vector<T> dcols(static_cast<size_t>(d.rows * d.k));
  ref::matmul(dy, w, dcols.data(), d.rows, d.out, d.k);
  const int64_t dx_size = g.batch * g.height * g.width * g.in_channels;
  for (int64_t k = 0; k < dx_size; ++k) dx[k] = T(0);
  ref::col2im_add(dcols.data(), dx, g);
}

// dW[out, K] = dyᵀ[out, R] · cols[R, K]: the Dense weight gradient with dy in the role of the input.
template <class T>
void ref::conv2d_backward_filter(const T* x, const T* dy, T* dw, const Conv2dGeometry& g) {
  const ConvMatrixDims d = matrix_dims(g);
  std::vector<T> cols(static_cast<size_t>(d.rows * d.k));
  ref::im2col(x, cols.data(), g);
  ref::matmul_grad_weight(dy, cols.data(), dw, d.rows, d.out, d.k);
}

#define LOOM_INSTANTIATE(T)                                                                  \
  template void ref::conv2d_forward<T>(const T*, const T*, T*, const Conv2dGeometry&);       \
  template void ref::conv2d_backward_data<T>(const T*, const T*, T*, const Conv2dGeometry&); \
  template void ref::conv2d_backward_filter<T>(const T*, const T*, T*, const Conv2dGeometry&);
LOOM_INSTANTIATE(float)
LOOM_INSTANTIATE(double)
#undef LOOM_INSTANTIATE

}  // namespace loom
