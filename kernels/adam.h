// Adam as Keras 3 computes it, over the whole flat parameter buffer in one launch, in float32 throughout:
//   t += 1;  alpha = lr · sqrt(1 - beta2^t) / (1 - beta1^t)                     (adam_advance, one thread)
//   m += (g - m) · (1 - beta1);  v += (g² - v) · (1 - beta2);  p -= m · alpha / (sqrt(v) + epsilon)
// with Keras's constants (AdamConstants): the powers of beta1 and beta2 rounded to float32, but 1 - beta1 and 1 - beta2
// computed from the settings as given (Python floats, here doubles) and rounded after. The two differ: 1 - 0.999f is
// 0.00099998713, 1 - 0.999 rounds to 0.001 (float32), and an update written with the first takes steps 6.6e-6 larger
// than Keras's: enough for the tutorial MLP trained from Keras's weights on Keras's batches to part from Keras at step
// 204 (a ReLU input within 1e-5 of 0 falls on the other side), where with Keras's constants it follows Keras's weights
// to 1e-6 for the whole first epoch (docs/ACCURACY.md).
// The step count and alpha live on the device (`schedule` = [t, alpha]), and so does the learning rate (read from a
// float32 [1] tensor, the training step state's slot): a step needs no host value, and a CUDA graph replaying it
// follows a learning rate the host changes between replays.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"

namespace loom {

class Tensor;

// The settings, as Keras keeps them: the rate as float32 (a variable), the others as the numbers given (Python floats).
struct AdamHyper {
  float learning_rate = 1e-3f;  // the starting rate; the kernels read the current one from the device
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-7;
};

// The numbers an update computes with, in T: what TensorFlow makes of Keras's Python floats when they meet a T tensor.
template <class T>
struct AdamConstants {
  T beta1, beta2;                      // for the powers beta^t
  T one_minus_beta1, one_minus_beta2;  // 1 - beta computed in double, then rounded
  T epsilon;
};

template <class T>
AdamConstants<T> adam_constants(const AdamHyper& hyper) {
  return {T(hyper.beta1), T(hyper.beta2), T(1.0 - hyper.beta1), T(1.0 - hyper.beta2), T(hyper.epsilon)};
}

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
// The CUDA kernel runs it too.
template <class T>
LOOM_HOST_DEVICE inline void adam_update_element(T& param, T grad, T& m, T& v, T alpha, const AdamConstants<T>& c) {
  m += (grad - m) * c.one_minus_beta1;
  v += (grad * grad - v) * c.one_minus_beta2;
  param -= m * alpha / (std::sqrt(v) + c.epsilon);
}

// alpha = lr · sqrt(1 - beta2^t) / (1 - beta1^t), in T, as Keras's expression evaluates it.
template <class T>
LOOM_HOST_DEVICE inline T adam_alpha(T learning_rate, T t, const AdamConstants<T>& c) {
  return learning_rate * std::sqrt(T(1) - std::pow(c.beta2, t)) / (T(1) - std::pow(c.beta1, t));
}
}  // namespace ref

namespace cuda {
void adam_advance(float* schedule, const float* learning_rate, const AdamHyper& hyper);
void adam_update(float* params, const float* grads, float* m, float* v, const float* schedule, const AdamHyper& hyper,
                 int64_t n);
}  // namespace cuda

}  // namespace loom
