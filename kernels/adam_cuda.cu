#include "kernels/adam.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {

__global__ void adam_advance_kernel(float* schedule, const float* learning_rate, AdamHyper hyper) {
  float t = schedule[kAdamStep] + 1.f;
  schedule[kAdamStep] = t;
  // In double: beta2^t for t in the thousands loses most of float's digits in 1 - beta2^t.
  double correction = sqrt(1.0 - pow(double(hyper.beta2), double(t))) / (1.0 - pow(double(hyper.beta1), double(t)));
  schedule[kAdamAlpha] = static_cast<float>(*learning_rate * correction);
}

__global__ void adam_update_kernel(float* params, const float* grads, float* m, float* v, const float* schedule,
                                   AdamHyper hyper, int64_t n) {
  const float alpha = schedule[kAdamAlpha];
  LOOM_GRID_STRIDE_LOOP(i, n) {
    float g = grads[i];
    float mi = hyper.beta1 * m[i] + (1.f - hyper.beta1) * g;
    float vi = hyper.beta2 * v[i] + (1.f - hyper.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= alpha * mi / (sqrtf(vi) + hyper.epsilon);
  }
}

}  // namespace

void adam_advance(float* schedule, const float* learning_rate, const AdamHyper& hyper) {
  LOOM_LAUNCH_GRID(1, 1, adam_advance_kernel, schedule, learning_rate, hyper);
}

void adam_update(float* params, const float* grads, float* m, float* v, const float* schedule, const AdamHyper& hyper,
                 int64_t n) {
  LOOM_LAUNCH_ELEMENTWISE(n, adam_update_kernel, params, grads, m, v, schedule, hyper, n);
}

}  // namespace loom::cuda
