// Plain stochastic gradient descent over the flat parameter buffer: p -= learning_rate · g.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void sgd_update(Tensor& params, const Tensor& grads, float learning_rate);

namespace ref {
template <class T>
void sgd_update(T* params, const T* grads, T learning_rate, int64_t n);
}
namespace cuda {
void sgd_update(float* params, const float* grads, float learning_rate, int64_t n);
}

}  // namespace loom
