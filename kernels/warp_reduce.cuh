// Warp-wide reductions for the row-per-warp kernels (softmax, cross-entropy, argmax).
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace loom::cuda {

constexpr int kWarpSize = 32;
constexpr int kRowsPerBlock = 8;  // row-per-warp kernels run 8 warps (256 threads) per block

__device__ inline float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

__device__ inline float warp_sum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// Largest value and its lowest index across the warp (ties go to the lower index, as argmax does).
__device__ inline void warp_argmax(float& value, int& index) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    float other_value = __shfl_xor_sync(0xffffffffu, value, offset);
    int other_index = __shfl_xor_sync(0xffffffffu, index, offset);
    if (other_value > value || (other_value == value && other_index < index)) {
      value = other_value;
      index = other_index;
    }
  }
}

// The row's largest value and its lowest index, for a row read by a whole warp (lanes stride over the columns).
__device__ inline void warp_row_argmax(const float* row, int64_t cols, float& value, int& index) {
  value = -INFINITY;
  index = static_cast<int>(cols);  // no column yet: loses every comparison below
  for (int64_t j = threadIdx.x % kWarpSize; j < cols; j += kWarpSize)
    if (row[j] > value || index == cols) {
      value = row[j];
      index = static_cast<int>(j);
    }
  warp_argmax(value, index);
}

}  // namespace loom::cuda
