#include "kernels/bias_activation.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {

__global__ void bias_activation_forward_kernel(float* y, const float* bias, int64_t rows, int64_t cols, bool relu) {
  LOOM_GRID_STRIDE_LOOP(i, rows * cols) {
    float v = y[i] + bias[i % cols];
    y[i] = (relu && v < 0.f) ? 0.f : v;
  }
}

// One thread per column walks down the rows: neighbouring threads read neighbouring columns (coalesced), and the
// bias gradient needs no atomics. Rows are few at training batch sizes (32 for Dense, 32·H·W for Conv2D).
__global__ void bias_activation_backward_kernel(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols,
                                                bool relu) {
  LOOM_GRID_STRIDE_LOOP(c, cols) {
    float sum = 0.f;
    for (int64_t r = 0; r < rows; ++r) {
      int64_t i = r * cols + c;
      float g = dy[i];
      if (relu && !(y[i] > 0.f)) g = 0.f;
      dy[i] = g;
      sum += g;
    }
    dbias[c] = sum;
  }
}

// For many rows (a convolution's n·h·w): blocks of 32 columns × 8 row-lanes each take a slice of the rows, reduce
// their partial sums in shared memory and add them to the (zeroed) bias gradient with one atomic per column.
constexpr int kColumnTile = 32, kRowLanes = 8;
constexpr int64_t kRowsPerSlice = 256;

__global__ void bias_activation_backward_tiled_kernel(const float* y, float* dy, float* dbias, int64_t rows,
                                                      int64_t cols, int64_t rows_per_slice, bool relu) {
  __shared__ float partial[kRowLanes][kColumnTile];
  int64_t c = static_cast<int64_t>(blockIdx.x) * kColumnTile + threadIdx.x;
  int64_t row_begin = static_cast<int64_t>(blockIdx.y) * rows_per_slice;
  int64_t row_end = min(rows, row_begin + rows_per_slice);
  float sum = 0.f;
  if (c < cols)
    for (int64_t r = row_begin + threadIdx.y; r < row_end; r += kRowLanes) {
      int64_t i = r * cols + c;
      float g = dy[i];
      if (relu && !(y[i] > 0.f)) g = 0.f;
      dy[i] = g;
      sum += g;
    }
  partial[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    for (int lane = 1; lane < kRowLanes; ++lane) sum += partial[lane][threadIdx.x];
    atomicAdd(dbias + c, sum);
  }
}

}  // namespace

void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols, Activation act) {
  LOOM_LAUNCH_ELEMENTWISE(rows * cols, bias_activation_forward_kernel, y, bias, rows, cols, act == Activation::ReLU);
}

void bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols, Activation act) {
  const bool relu = act == Activation::ReLU;
  if (rows <= kRowsPerSlice) {  // Dense at training batch sizes: one pass, no atomics
    LOOM_LAUNCH_ELEMENTWISE(cols, bias_activation_backward_kernel, y, dy, dbias, rows, cols, relu);
    return;
  }
  LOOM_CUDA_CHECK(cudaMemsetAsync(dbias, 0, static_cast<size_t>(cols) * sizeof(float), stream()));
  const int64_t max_slices = 65535;  // grid.y limit
  int64_t rows_per_slice = std::max(kRowsPerSlice, ceil_div(rows, max_slices));
  dim3 grid(static_cast<unsigned>(ceil_div(cols, kColumnTile)), static_cast<unsigned>(ceil_div(rows, rows_per_slice)));
  dim3 block(kColumnTile, kRowLanes);
  LOOM_LAUNCH(bias_activation_backward_tiled_kernel, grid, block, 0, stream())
  (y, dy, dbias, rows, cols, rows_per_slice, relu);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace loom::cuda
