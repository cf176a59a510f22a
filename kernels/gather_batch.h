// Builds a training batch on the device: sample b is the stored image order[cursor + b], converted from uint8 to
// float and scaled by 1/255, with its label widened to int32. The whole data set stays on the device as uint8; only
// the shuffled order moves, once per epoch. The batch's position in the epoch is read from a device-side cursor (the
// step state's slot, which advance_step moves on), so the same enqueued step or captured CUDA graph serves every
// batch of an epoch.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

constexpr float kPixelScale = 1.f / 255.f;

// images: uint8 [N, ...]; labels: uint8 [N]; order: int32 [N], a permutation of [0, N); cursor: int32 [1] with
// cursor + n <= N; x: float32 [n, ...] (same per-sample shape as images); y: int32 [n].
void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& cursor, Tensor& x,
                  Tensor& y);

namespace ref {
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor,
                  float* x, int32_t* y, int64_t n, int64_t sample_size);
}
namespace cuda {
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor,
                  float* x, int32_t* y, int64_t n, int64_t sample_size);
}

}  // namespace loom
