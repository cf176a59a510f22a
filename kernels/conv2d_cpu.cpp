// The CPU path's convolution: the reference's decomposition (kernels/im2col.h) with the batch cut into slices, one per
// thread, and the products through OpenBLAS (kernels/dense_cpu.cpp). The im2col matrix lives in the shared host
// scratch, which the layer reserved when it was prepared, so a training step allocates nothing.
#include "engine/runtime/host_scratch.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dense.h"
#include "kernels/im2col.h"

namespace loom {

namespace {

struct ConvSizes {
  int64_t image;   // floats of one input image, h·w·in
  int64_t pixels;  // output pixels of one image, oh·ow
  int64_t k;       // one im2col row, kh·kw·in
  int64_t rows;    // im2col rows of the batch, n·oh·ow
};

ConvSizes sizes_of(const Conv2dGeometry& g) {
  const int64_t pixels = g.out_height() * g.out_width(), k = g.kernel_h * g.kernel_w * g.in_channels;
  return {g.height * g.width * g.in_channels, pixels, k, g.batch * pixels};
}

// The geometry of images [begin, end) of the batch.
Conv2dGeometry images(Conv2dGeometry g, int64_t begin, int64_t end) {
  g.batch = end - begin;
  return g;
}

void parallel_im2col(const float* x, float* cols, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  cpu::parallel_ranges(g.batch, s.pixels * s.k, [&](int64_t begin, int64_t end) {
    ref::im2col(x + begin * s.image, cols + begin * s.pixels * s.k, images(g, begin, end));
  });
}

}  // namespace

int64_t cpu::conv2d_scratch_floats(const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  return s.rows * s.k;
}

// y[R, out] = cols[R, K] · W[out, K]ᵀ: the kernel as stored is already the transposed right operand.
void cpu::conv2d_forward(const float* x, const float* w, float* y, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  float* cols = host_scratch(conv2d_scratch_floats(g));
  parallel_im2col(x, cols, g);
  cpu::matmul_grad_input(cols, w, y, s.rows, g.out_channels, s.k);
}

// dcols[R, K] = dy[R, out] · W[out, K], then each image's columns go back to its pixels (col2im adds, so each
// thread zeroes its own images first).
void cpu::conv2d_backward_data(const float* dy, const float* w, float* dx, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  float* dcols = host_scratch(conv2d_scratch_floats(g));
  cpu::matmul(dy, w, dcols, s.rows, g.out_channels, s.k);
  cpu::parallel_ranges(g.batch, s.pixels * s.k, [&](int64_t begin, int64_t end) {
    float* first = dx + begin * s.image;
    for (float* p = first; p != dx + end * s.image; ++p) *p = 0.0f;
    ref::col2im_add(dcols + begin * s.pixels * s.k, first, images(g, begin, end));
  });
}

// dW[out, K] = dyᵀ[out, R] · cols[R, K]
void cpu::conv2d_backward_filter(const float* x, const float* dy, float* dw, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  float* cols = host_scratch(conv2d_scratch_floats(g));
  parallel_im2col(x, cols, g);
  cpu::matmul_grad_weight(dy, cols, dw, s.rows, g.out_channels, s.k);
}

}  // namespace loom
