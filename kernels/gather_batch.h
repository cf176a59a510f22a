// Builds a training batch on the device: sample b is the stored image order[cursor + b], converted from uint8 to
// float and scaled by 1/255, with its label widened to int32. The whole data set stays on the device as uint8; only
// the shuffled order moves, once per epoch. The batch's position in the epoch is read from a device-side cursor (the
// step state's slot, which advance_step moves on), so the same enqueued step or captured CUDA graph serves every
// batch of an epoch.
#pragma once

#include <cstdint>

#include "kernels/philox.h"

namespace loom {

class Tensor;

// A pixel as the network sees it: v / 255 in float32, correctly rounded, as Keras's tutorials feed it (NumPy's
// images / 255.0). Multiplying by a rounded 1/255 instead would be one float32 ulp off for 126 of the 256 values.
LOOM_HOST_DEVICE inline float pixel_value(uint8_t v) { return static_cast<float>(v) / 255.f; }

// images: uint8 [N, ...]; labels: uint8 [N]; order: int32 [N], a permutation of [0, N); cursor: int32 [1] with
// cursor + n <= N; x: float32 [n, ...] (same per-sample shape as images); y: int32 [n].
void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& cursor, Tensor& x,
                  Tensor& y);

// Augmentation as the training batch is gathered (never for evaluation), for images [N, h, w] or [N, h, w, c]:
// sample b of training step s is shifted by (dy, dx), each drawn uniformly from [−max_shift, max_shift], pixels
// coming from outside the image being 0 (as padding by max_shift and cropping back gives), and mirrored left to
// right when horizontal_flip is on and its draw says so (one in two). The draws are words 0, 1 and 2 of Philox
// block b, keyed by the model's augmentation stream and the step count (kernels/philox.h): a run reproduces from its
// seed, a resumed run draws what the uninterrupted one would have, and a replayed CUDA graph draws afresh.
struct Augmentation {
  int64_t max_shift = 0;
  bool horizontal_flip = false;
  bool active() const { return max_shift > 0 || horizontal_flip; }
  bool operator==(const Augmentation& o) const {
    return max_shift == o.max_shift && horizontal_flip == o.horizontal_flip;
  }
};

// What augmentation does to one sample; output pixel (i, j) reads source pixel (i + shift_y, j' + shift_x), where j'
// is w − 1 − j when flipped, else j.
struct SampleTransform {
  int32_t shift_y = 0, shift_x = 0;
  bool flip = false;
};
LOOM_HOST_DEVICE inline SampleTransform sample_transform(PhiloxKey key, int32_t step, int64_t sample, int32_t max_shift,
                                                         bool horizontal_flip) {
  const PhiloxBlock draw = philox_draw(key, step, static_cast<uint64_t>(sample));
  const uint32_t span = 2u * static_cast<uint32_t>(max_shift) + 1u;
  return {static_cast<int32_t>(draw.word[0] % span) - max_shift, static_cast<int32_t>(draw.word[1] % span) - max_shift,
          horizontal_flip && (draw.word[2] & 1u) != 0};
}

// The batch at the step state's cursor, augmented: step_state int32 [kStepStateSlots] (its cursor places the batch,
// its step count keys the draws); the rest as gather_batch. max_shift must be below the image's height and width.
void gather_augmented_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& step_state,
                            const Augmentation& augmentation, PhiloxKey key, Tensor& x, Tensor& y);

// The per-sample layout augmentation sees: rows × columns of `channels` bytes.
struct ImageLayout {
  int64_t height = 0, width = 0, channels = 1;
};

namespace ref {
void gather_augmented_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                            const int32_t* step_state, float* x, int32_t* y, int64_t n, ImageLayout image,
                            const Augmentation& augmentation, PhiloxKey key);
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor, float* x,
                  int32_t* y, int64_t n, int64_t sample_size);
}  // namespace ref
namespace cuda {
void gather_augmented_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                            const int32_t* step_state, float* x, int32_t* y, int64_t n, ImageLayout image,
                            const Augmentation& augmentation, PhiloxKey key);
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor, float* x,
                  int32_t* y, int64_t n, int64_t sample_size);
}  // namespace cuda

}  // namespace loom
