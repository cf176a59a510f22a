// Builds a training batch on the device: sample b is the stored image indices[b], converted from uint8 to float and
// scaled by 1/255, with its label widened to int32. The whole data set stays on the device as uint8; only the
// shuffled index moves, once per epoch.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

constexpr float kPixelScale = 1.f / 255.f;

// images: uint8 [N, ...]; labels: uint8 [N]; indices: int32 [n] with values in [0, N);
// x: float32 [n, ...] (same per-sample shape as images); y: int32 [n].
void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& indices, Tensor& x, Tensor& y);

namespace ref {
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* indices, float* x, int32_t* y,
                  int64_t n, int64_t sample_size);
}
namespace cuda {
void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* indices, float* x, int32_t* y,
                  int64_t n, int64_t sample_size);
}

}  // namespace loom
