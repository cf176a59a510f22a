#include "kernels/launch.cuh"
#include "kernels/step_state.h"

namespace loom::cuda {
namespace {
__global__ void advance_step_kernel(int32_t* state, int32_t rows) {
  state[kBatchCursor] += rows;
  state[kStepsDone] += 1;
}
}  // namespace

void advance_step(int32_t* state, int32_t rows) { LOOM_LAUNCH_GRID(1, 1, advance_step_kernel, state, rows); }

}  // namespace loom::cuda
