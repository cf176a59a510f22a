#include "kernels/gather_batch.h"

#include "kernels/step_state.h"

namespace loom {

void ref::gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor,
                       float* x, int32_t* y, int64_t n, int64_t sample_size) {
  const int32_t* indices = order + *cursor;
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* src = images + static_cast<int64_t>(indices[b]) * sample_size;
    for (int64_t j = 0; j < sample_size; ++j) x[b * sample_size + j] = pixel_value(src[j]);
    y[b] = labels[indices[b]];
  }
}

void ref::gather_augmented_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                                 const int32_t* step_state, float* x, int32_t* y, int64_t n, ImageLayout image,
                                 const Augmentation& augmentation, PhiloxKey key) {
  const int32_t* indices = order + step_state[kBatchCursor];
  const int64_t h = image.height, w = image.width, c = image.channels;
  for (int64_t b = 0; b < n; ++b) {
    const SampleTransform t = sample_transform(
        key, step_state[kStepsDone], b, static_cast<int32_t>(augmentation.max_shift), augmentation.horizontal_flip);
    const uint8_t* src = images + static_cast<int64_t>(indices[b]) * h * w * c;
    float* out = x + b * h * w * c;
    for (int64_t i = 0; i < h; ++i)
      for (int64_t j = 0; j < w; ++j) {
        const int64_t si = i + t.shift_y, sj = (t.flip ? w - 1 - j : j) + t.shift_x;
        const bool inside = si >= 0 && si < h && sj >= 0 && sj < w;
        for (int64_t k = 0; k < c; ++k)
          out[(i * w + j) * c + k] = inside ? pixel_value(src[(si * w + sj) * c + k]) : 0.f;
      }
    y[b] = labels[indices[b]];
  }
}

}  // namespace loom
