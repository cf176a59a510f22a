#include "kernels/launch.cuh"
#include "kernels/sgd.h"

namespace loom::cuda {
namespace {
__global__ void sgd_update_kernel(float* params, const float* grads, const float* learning_rate, int64_t n) {
  const float rate = *learning_rate;
  LOOM_GRID_STRIDE_LOOP(i, n) { params[i] -= rate * grads[i]; }
}
}  // namespace

void sgd_update(float* params, const float* grads, const float* learning_rate, int64_t n) {
  LOOM_LAUNCH_ELEMENTWISE(n, sgd_update_kernel, params, grads, learning_rate, n);
}

}  // namespace loom::cuda
