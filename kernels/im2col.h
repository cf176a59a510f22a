// The reshaping that turns a convolution into one matrix product (kernels/conv2d.h), shared by the reference and by
// the CPU path's BLAS convolution, which runs it on slices of the batch, one per thread.
#pragma once

#include <cstdint>

#include "kernels/conv2d.h"

namespace loom::ref {

// The reference computes the convolution as one matrix product, so it needs nothing beyond the Dense reference:
// each output pixel (n, i, j) becomes a row of `cols` holding the receptive field it reads, flattened in the
// kernel's (a, b, c) order, i.e. cols is [R = n·oh·ow, K = kh·kw·in] and the kernel viewed as [out, K] lines up
// with it column for column. Reads outside the image are the zero padding.
template <class T>
void im2col(const T* x, T* cols, const Conv2dGeometry& g) {
  const int64_t oh = g.out_height(), ow = g.out_width(), c_in = g.in_channels;
  const int64_t K = g.kernel_h * g.kernel_w * c_in;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        T* row = cols + ((n * oh + i) * ow + j) * K;
        for (int64_t a = 0; a < g.kernel_h; ++a)
          for (int64_t b = 0; b < g.kernel_w; ++b) {
            T* dst = row + (a * g.kernel_w + b) * c_in;
            const int64_t h = i + a - g.pad_h, w = j + b - g.pad_w;
            if (h < 0 || h >= g.height || w < 0 || w >= g.width) {
              for (int64_t c = 0; c < c_in; ++c) dst[c] = T(0);
              continue;
            }
            const T* src = x + ((n * g.height + h) * g.width + w) * c_in;
            for (int64_t c = 0; c < c_in; ++c) dst[c] = src[c];
          }
      }
}

// The adjoint of im2col: every entry of `cols` goes back to the input pixel it was read from. A pixel appears in
// several receptive fields, so contributions add (dx must be zeroed first); padding entries are dropped.
template <class T>
void col2im_add(const T* cols, T* dx, const Conv2dGeometry& g) {
  const int64_t oh = g.out_height(), ow = g.out_width(), c_in = g.in_channels;
  const int64_t K = g.kernel_h * g.kernel_w * c_in;
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const T* row = cols + ((n * oh + i) * ow + j) * K;
        for (int64_t a = 0; a < g.kernel_h; ++a)
          for (int64_t b = 0; b < g.kernel_w; ++b) {
            const int64_t h = i + a - g.pad_h, w = j + b - g.pad_w;
            if (h < 0 || h >= g.height || w < 0 || w >= g.width) continue;
            const T* src = row + (a * g.kernel_w + b) * c_in;
            T* dst = dx + ((n * g.height + h) * g.width + w) * c_in;
            for (int64_t c = 0; c < c_in; ++c) dst[c] += src[c];
          }
      }
}

}  // namespace loom::ref
