// Adam as Keras computes it, over the whole flat parameter buffer in one launch:
//   t += 1;  alpha = lr · sqrt(1 - beta2^t) / (1 - beta1^t)                     (adam_advance, one thread)
//   m = beta1·m + (1 - beta1)·g;  v = beta2·v + (1 - beta2)·g²;  p -= alpha · m / (sqrt(v) + epsilon)
// The step count and alpha live on the device (`schedule` = [t, alpha]), and so does the learning rate (read from a
// float32 [1] tensor, the training step state's slot): a step needs no host value, and a CUDA graph replaying it
// follows a learning rate the host changes between replays.
#pragma once

#include <cmath>
#include <cstdint>

namespace loom {

class Tensor;

struct AdamHyper {
  float learning_rate = 1e-3f;  // the starting rate; the kernels read the current one from the device
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;
};

enum AdamScheduleSlot : int { kAdamStep = 0, kAdamAlpha = 1, kAdamScheduleSlots = 2 };

void adam_advance(Tensor& schedule, const Tensor& learning_rate, const AdamHyper& hyper);
void adam_update(Tensor& params, const Tensor& grads, Tensor& m, Tensor& v, const Tensor& schedule,
                 const AdamHyper& hyper);

namespace ref {
template <class T>
void adam_advance(T* schedule, T learning_rate, const AdamHyper& hyper);
template <class T>
void adam_update(T* params, const T* grads, T* m, T* v, const T* schedule, const AdamHyper& hyper, int64_t n);

// One parameter's update, the arithmetic of adam_update: here, inline, so that the CPU path's vector clones
// (kernels/adam.cpp) compile it into their own loops rather than call the reference compiled for the baseline CPU.
template <class T>
inline void adam_update_element(T& param, T grad, T& m, T& v, T alpha, T beta1, T beta2, T epsilon) {
  m = beta1 * m + (T(1) - beta1) * grad;
  v = beta2 * v + (T(1) - beta2) * grad * grad;
  param -= alpha * m / (std::sqrt(v) + epsilon);
}
}  // namespace ref

namespace cuda {
void adam_advance(float* schedule, const float* learning_rate, const AdamHyper& hyper);
void adam_update(float* params, const float* grads, float* m, float* v, const float* schedule, const AdamHyper& hyper,
                 int64_t n);
}  // namespace cuda

}  // namespace loom
