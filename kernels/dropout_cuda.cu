#include "kernels/dropout.h"
#include "kernels/launch.cuh"
#include "kernels/step_state.h"

namespace loom::cuda {
namespace {

// One thread per block of four elements: one Philox draw serves all four.
__global__ void dropout_kernel(const float* x, float* y, int64_t n, float rate, float scale, PhiloxKey key,
                               const int32_t* step_state) {
  const int32_t step = step_state[kStepsDone];
  LOOM_GRID_STRIDE_LOOP(block, (n + 3) / 4) {
    const PhiloxBlock draw = philox_draw(key, step, static_cast<uint64_t>(block));
    for (int k = 0; k < 4; ++k) {
      const int64_t i = block * 4 + k;
      if (i < n) y[i] = unit_float(draw.word[k]) >= rate ? x[i] * scale : 0.f;
    }
  }
}

}  // namespace

void dropout(const float* x, float* y, int64_t n, float rate, PhiloxKey key, const int32_t* step_state) {
  LOOM_LAUNCH_ELEMENTWISE((n + 3) / 4, dropout_kernel, x, y, n, rate, dropout_scale(rate), key, step_state);
}

}  // namespace loom::cuda
