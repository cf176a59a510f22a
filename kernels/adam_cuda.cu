#include "kernels/adam.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {

// The CPU's arithmetic (kernels/adam.h), in float32 as Keras computes it.
__global__ void adam_advance_kernel(float* schedule, const float* learning_rate, AdamConstants<float> constants) {
  float t = schedule[kAdamStep] + 1.f;
  schedule[kAdamStep] = t;
  schedule[kAdamAlpha] = ref::adam_alpha(*learning_rate, t, constants);
}

__global__ void adam_update_kernel(float* params, const float* grads, float* m, float* v, const float* schedule,
                                   AdamConstants<float> constants, int64_t n) {
  const float alpha = schedule[kAdamAlpha];
  LOOM_GRID_STRIDE_LOOP(i, n) {
    float param = params[i], mi = m[i], vi = v[i];
    ref::adam_update_element(param, grads[i], mi, vi, alpha, constants);
    params[i] = param;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void adam_advance(float* schedule, const float* learning_rate, const AdamHyper& hyper) {
  LOOM_LAUNCH_GRID(1, 1, adam_advance_kernel, schedule, learning_rate, adam_constants<float>(hyper));
}

void adam_update(float* params, const float* grads, float* m, float* v, const float* schedule, const AdamHyper& hyper,
                 int64_t n) {
  LOOM_LAUNCH_ELEMENTWISE(n, adam_update_kernel, params, grads, m, v, schedule, adam_constants<float>(hyper), n);
}

}  // namespace loom::cuda
