#include "kernels/launch.cuh"
#include "kernels/relu.h"

namespace loom::cuda {
namespace {
__global__ void relu_forward_kernel(const float* x, float* y, int64_t n) {
  LOOM_GRID_STRIDE_LOOP(i, n) { y[i] = x[i] > 0.f ? x[i] : 0.f; }
}
__global__ void relu_backward_kernel(const float* y, const float* dy, float* dx, int64_t n) {
  LOOM_GRID_STRIDE_LOOP(i, n) { dx[i] = y[i] > 0.f ? dy[i] : 0.f; }
}
}  // namespace

void relu_forward(const float* x, float* y, int64_t n) { LOOM_LAUNCH_ELEMENTWISE(n, relu_forward_kernel, x, y, n); }
void relu_backward(const float* y, const float* dy, float* dx, int64_t n) {
  LOOM_LAUNCH_ELEMENTWISE(n, relu_backward_kernel, y, dy, dx, n);
}

}  // namespace loom::cuda
