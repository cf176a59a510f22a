// The CPU path's max pooling. In NHWC the channels of a pixel are contiguous, so a window is scanned for all channels
// at once, in the reference's row-major window order and by its rule (a NaN takes the window and keeps it; otherwise
// the first strict maximum wins), as selects the compiler turns into vector blends; images go to separate threads.
// That works when each input pixel lies in at most one window (stride ≥ pool, as in Keras's default stride = pool);
// overlapping windows go to the reference, slice by slice.
#include <cstring>

#include "kernels/cpu_parallel.h"
#include "kernels/max_pool2d.h"

namespace loom {

namespace {

// Channels handled together: the backward pass keeps a running maximum and its position for each on the stack.
constexpr int64_t kChannelBlock = 64;

struct PoolSizes {
  int64_t image, pooled;  // floats of one input image and of one output image
};

PoolSizes sizes_of(const MaxPool2dGeometry& g) {
  return {g.height * g.width * g.channels, g.out_height() * g.out_width() * g.channels};
}

bool windows_overlap(const MaxPool2dGeometry& g) { return g.stride_h < g.pool_h || g.stride_w < g.pool_w; }

// Some input pixels lie in no window (a stride larger than the pool, or an edge the floor drops): their gradient is 0.
bool windows_cover_image(const MaxPool2dGeometry& g) {
  return g.stride_h == g.pool_h && g.stride_w == g.pool_w && g.out_height() * g.pool_h == g.height &&
         g.out_width() * g.pool_w == g.width;
}

MaxPool2dGeometry images(MaxPool2dGeometry g, int64_t begin, int64_t end) {
  g.batch = end - begin;
  return g;
}

// The window of output pixel (i, j) of one image: its a-th row's b-th pixel, channel 0.
const float* window_pixel(const float* image, const MaxPool2dGeometry& g, int64_t i, int64_t j, int64_t a, int64_t b) {
  return image + ((i * g.stride_h + a) * g.width + j * g.stride_w + b) * g.channels;
}

// The reference's rule for replacing the running maximum `best` by a later value.
// (`&`, not `&&`: no branch, so the loops around it vectorise.)
inline bool replaces(float value, float best) { return (best == best) & !(value <= best); }

void forward_images(const float* x, float* y, const MaxPool2dGeometry& g) {
  const PoolSizes s = sizes_of(g);
  const int64_t channels = g.channels;
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* image = x + n * s.image;
    float* out = y + n * s.pooled;
    for (int64_t i = 0; i < g.out_height(); ++i)
      for (int64_t j = 0; j < g.out_width(); ++j, out += channels) {
        std::memcpy(out, window_pixel(image, g, i, j, 0, 0), static_cast<size_t>(channels) * sizeof(float));
        for (int64_t a = 0; a < g.pool_h; ++a)
          for (int64_t b = a == 0 ? 1 : 0; b < g.pool_w; ++b) {
            const float* v = window_pixel(image, g, i, j, a, b);
            for (int64_t c = 0; c < channels; ++c) out[c] = replaces(v[c], out[c]) ? v[c] : out[c];
          }
      }
  }
}

void backward_images(const float* x, const float* dy, float* dx, const MaxPool2dGeometry& g) {
  const PoolSizes s = sizes_of(g);
  if (!windows_cover_image(g)) std::memset(dx, 0, static_cast<size_t>(g.batch * s.image) * sizeof(float));
  for (int64_t n = 0; n < g.batch; ++n) {
    const float* image = x + n * s.image;
    float* grad = dx + n * s.image;
    for (int64_t i = 0; i < g.out_height(); ++i)
      for (int64_t j = 0; j < g.out_width(); ++j) {
        const float* upstream = dy + n * s.pooled + (i * g.out_width() + j) * g.channels;
        for (int64_t c0 = 0; c0 < g.channels; c0 += kChannelBlock) {
          const int64_t width = std::min(kChannelBlock, g.channels - c0);
          float best[kChannelBlock];
          float at[kChannelBlock];  // the maximum's position in the window, row-major (a float, as the values are, so
                                    // that one vector select serves both)
          const float* first = window_pixel(image, g, i, j, 0, 0) + c0;
          for (int64_t c = 0; c < width; ++c) {
            best[c] = first[c];
            at[c] = 0.0f;
          }
          for (int64_t a = 0; a < g.pool_h; ++a)
            for (int64_t b = a == 0 ? 1 : 0; b < g.pool_w; ++b) {
              const float* v = window_pixel(image, g, i, j, a, b) + c0;
              const float here = static_cast<float>(a * g.pool_w + b);
              for (int64_t c = 0; c < width; ++c) {
                const bool take = replaces(v[c], best[c]);
                best[c] = take ? v[c] : best[c];
                at[c] = take ? here : at[c];
              }
            }
          // Each pixel is in this window only: its gradient is written, not added. (So a -0 gradient stays -0 where
          // the reference's zeroed sum makes it +0; the two compare equal. Writing 0 + dy instead would keep the
          // compiler from vectorising the select.)
          for (int64_t a = 0; a < g.pool_h; ++a)
            for (int64_t b = 0; b < g.pool_w; ++b) {
              float* d = grad + (window_pixel(image, g, i, j, a, b) - image) + c0;
              const float here = static_cast<float>(a * g.pool_w + b);
              for (int64_t c = 0; c < width; ++c) {
                const float gradient = upstream[c0 + c];  // read unconditionally: a select, not a branch
                d[c] = at[c] == here ? gradient : 0.0f;
              }
            }
        }
      }
  }
}

}  // namespace

void cpu::max_pool2d_forward(const float* x, float* y, const MaxPool2dGeometry& g) {
  const PoolSizes s = sizes_of(g);
  const bool overlap = windows_overlap(g);
  cpu::parallel_ranges(g.batch, s.image, [&](int64_t begin, int64_t end) {
    const float* in = x + begin * s.image;
    float* out = y + begin * s.pooled;
    if (overlap)
      ref::max_pool2d_forward(in, out, images(g, begin, end));
    else
      forward_images(in, out, images(g, begin, end));
  });
}

void cpu::max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dGeometry& g) {
  const PoolSizes s = sizes_of(g);
  const bool overlap = windows_overlap(g);
  cpu::parallel_ranges(g.batch, s.image, [&](int64_t begin, int64_t end) {
    const float* in = x + begin * s.image;
    const float* upstream = dy + begin * s.pooled;
    float* grad = dx + begin * s.image;
    if (overlap)
      ref::max_pool2d_backward(in, upstream, grad, images(g, begin, end));
    else
      backward_images(in, upstream, grad, images(g, begin, end));
  });
}

}  // namespace loom
