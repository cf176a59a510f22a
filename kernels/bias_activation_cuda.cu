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
__global__ void bias_activation_backward_kernel(const float* y, float* dy, float* dbias, int64_t rows,
                                                int64_t cols, bool relu) {
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

}  // namespace

void bias_activation_forward(float* y, const float* bias, int64_t rows, int64_t cols, Activation act) {
  launch_elementwise(rows * cols, bias_activation_forward_kernel, y, bias, rows, cols, act == Activation::ReLU);
}

void bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols, Activation act) {
  launch_elementwise(cols, bias_activation_backward_kernel, y, dy, dbias, rows, cols, act == Activation::ReLU);
}

}  // namespace loom::cuda
