// Plain stochastic gradient descent over the flat parameter buffer: p -= learning_rate · g. The learning rate is read
// from a float32 [1] tensor on the parameters' device (the step state's slot), so a replayed CUDA graph follows it.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void sgd_update(Tensor& params, const Tensor& grads, const Tensor& learning_rate);

namespace ref {
template <class T>
void sgd_update(T* params, const T* grads, T learning_rate, int64_t n);
}
namespace cuda {
void sgd_update(float* params, const float* grads, const float* learning_rate, int64_t n);
}

}  // namespace loom
