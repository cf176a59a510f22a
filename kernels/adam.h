// Adam as Keras computes it, over the whole flat parameter buffer in one launch:
//   t += 1;  alpha = lr · sqrt(1 - beta2^t) / (1 - beta1^t)                     (adam_advance, one thread)
//   m = beta1·m + (1 - beta1)·g;  v = beta2·v + (1 - beta2)·g²;  p -= alpha · m / (sqrt(v) + epsilon)
// The step count and alpha live on the device (`schedule` = [t, alpha]) so a step needs no host value and can be
// replayed from a CUDA graph.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

struct AdamHyper {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
};

enum AdamScheduleSlot : int { kAdamStep = 0, kAdamAlpha = 1, kAdamScheduleSlots = 2 };

void adam_advance(Tensor& schedule, const AdamHyper& hyper);
void adam_update(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const Tensor& schedule,
                 const AdamHyper& hyper);

namespace ref {
template <class T>
void adam_advance(T* schedule, const AdamHyper& hyper);
template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, const T* schedule, const AdamHyper& hyper, int64_t n);
}  // namespace ref

namespace cuda {
void adam_advance(float* schedule, const AdamHyper& hyper);
void adam_update(float* params, const float* grads, float* m, float* v, const float* schedule,
                 const AdamHyper& hyper, int64_t n);
}  // namespace cuda

}  // namespace loom
