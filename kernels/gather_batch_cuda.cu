#include "kernels/gather_batch.h"
#include "kernels/launch.cuh"
#include "kernels/step_state.h"

namespace loom::cuda {
namespace {

// One thread per output element: neighbouring threads read neighbouring bytes of the same source image.
__global__ void gather_batch_kernel(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                                    const int32_t* cursor, float* x, int32_t* y, int64_t n, int64_t sample_size) {
  const int32_t* indices = order + *cursor;
  LOOM_GRID_STRIDE_LOOP(i, n * sample_size) {
    int64_t b = i / sample_size;
    int64_t src = static_cast<int64_t>(indices[b]);
    x[i] = pixel_value(images[src * sample_size + (i - b * sample_size)]);
    if (i - b * sample_size == 0) y[b] = labels[src];
  }
}

// One thread per output pixel (all its channels): each draws its sample's transform (ten Philox rounds, cheaper than
// a pass to share them).
__global__ void gather_augmented_batch_kernel(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                                              const int32_t* step_state, float* x, int32_t* y, int64_t n,
                                              ImageLayout image, int32_t max_shift, bool horizontal_flip,
                                              PhiloxKey key) {
  const int32_t* indices = order + step_state[kBatchCursor];
  const int64_t h = image.height, w = image.width, c = image.channels;
  LOOM_GRID_STRIDE_LOOP(p, n * h * w) {
    const int64_t b = p / (h * w), i = (p / w) % h, j = p % w;
    const SampleTransform t = sample_transform(key, step_state[kStepsDone], b, max_shift, horizontal_flip);
    const int64_t src = static_cast<int64_t>(indices[b]);
    const int64_t si = i + t.shift_y, sj = (t.flip ? w - 1 - j : j) + t.shift_x;
    const bool inside = si >= 0 && si < h && sj >= 0 && sj < w;
    for (int64_t k = 0; k < c; ++k)
      x[p * c + k] = inside ? pixel_value(images[((src * h + si) * w + sj) * c + k]) : 0.f;
    if (i == 0 && j == 0) y[b] = labels[src];
  }
}

}  // namespace

void gather_augmented_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                            const int32_t* step_state, float* x, int32_t* y, int64_t n, ImageLayout image,
                            const Augmentation& augmentation, PhiloxKey key) {
  LOOM_LAUNCH_ELEMENTWISE(n * image.height * image.width, gather_augmented_batch_kernel, images, labels, order,
                          step_state, x, y, n, image, static_cast<int32_t>(augmentation.max_shift),
                          augmentation.horizontal_flip, key);
}

void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor, float* x,
                  int32_t* y, int64_t n, int64_t sample_size) {
  LOOM_LAUNCH_ELEMENTWISE(n * sample_size, gather_batch_kernel, images, labels, order, cursor, x, y, n, sample_size);
}

}  // namespace loom::cuda
