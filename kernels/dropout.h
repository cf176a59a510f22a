// Inverted dropout (Keras's Dropout in training): y = x · keep / (1 − rate), keep = 1 where the element's uniform
// draw u ∈ [0, 1) has u ≥ rate, so a fraction `rate` of the elements is zeroed and the rest scaled up, and the
// expectation is x. The draw of element i is word i mod 4 of the Philox block floor(i / 4) (kernels/philox.h), keyed
// by the layer and the training step read from the step state on the device: a captured CUDA graph draws a new mask
// at every replay, and the CPU and the GPU draw the same one. The backward pass is the same function applied to dy
// (dx = dy · keep / (1 − rate)): it draws the mask again, still within the same step, instead of storing it.
#pragma once

#include <cstdint>

#include "kernels/philox.h"

namespace loom {

class Tensor;

// x and y of one shape (they may be the same tensor); step_state: int32 [kStepStateSlots] on their device.
void dropout(const Tensor& x, Tensor& y, float rate, PhiloxKey key, const Tensor& step_state);

// 1 / (1 − rate) in float, the factor a kept element is multiplied by on every device.
float dropout_scale(float rate);

namespace ref {
template <class T>
void dropout(const T* x, T* y, int64_t n, float rate, PhiloxKey key, int32_t step);
}
namespace cuda {
void dropout(const float* x, float* y, int64_t n, float rate, PhiloxKey key, const int32_t* step_state);
}

}  // namespace loom
