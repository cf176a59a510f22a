#include "kernels/launch.cuh"
#include "kernels/softmax.h"
#include "kernels/warp_reduce.cuh"

namespace loom::cuda {
namespace {

// One warp per row; lanes stride over the columns.
__global__ void softmax_forward_kernel(const float* x, float* y, int64_t rows, int64_t cols) {
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const float* xr = x + row * cols;
  float* yr = y + row * cols;
  float max = -INFINITY;
  for (int64_t j = lane; j < cols; j += kWarpSize) max = fmaxf(max, xr[j]);
  max = warp_max(max);
  float sum = 0.f;
  for (int64_t j = lane; j < cols; j += kWarpSize) sum += expf(xr[j] - max);
  sum = warp_sum(sum);
  float inv = 1.f / sum;
  for (int64_t j = lane; j < cols; j += kWarpSize) yr[j] = expf(xr[j] - max) * inv;
}

__global__ void softmax_backward_kernel(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const float* yr = y + row * cols;
  const float* dyr = dy + row * cols;
  float dot = 0.f;
  for (int64_t j = lane; j < cols; j += kWarpSize) dot += dyr[j] * yr[j];
  dot = warp_sum(dot);
  for (int64_t j = lane; j < cols; j += kWarpSize) dx[row * cols + j] = yr[j] * (dyr[j] - dot);
}

}  // namespace

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
  LOOM_LAUNCH_GRID(ceil_div(rows, kRowsPerBlock), kRowsPerBlock * kWarpSize, softmax_forward_kernel, x, y, rows, cols);
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols) {
  LOOM_LAUNCH_GRID(ceil_div(rows, kRowsPerBlock), kRowsPerBlock * kWarpSize, softmax_backward_kernel, y, dy, dx, rows,
                   cols);
}

}  // namespace loom::cuda
