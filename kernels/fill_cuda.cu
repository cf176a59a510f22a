#include "kernels/fill.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {
__global__ void fill_kernel(float* x, int64_t n, float value) {
  LOOM_GRID_STRIDE_LOOP(i, n) { x[i] = value; }
}
}  // namespace

void fill(float* x, int64_t n, float value) { launch_elementwise(n, fill_kernel, x, n, value); }

}  // namespace loom::cuda
