#include "engine/layers/activations.h"

#include "kernels/relu.h"
#include "kernels/softmax.h"

namespace loom {

void ReLU::forward(const Tensor& x, Tensor& y, bool /*training*/) { relu_forward(x, y); }

void ReLU::backward(const Tensor&, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (dx) relu_backward(y, dy, *dx);
}

void Softmax::forward(const Tensor& x, Tensor& y, bool /*training*/) { softmax_forward(x, y); }

void Softmax::backward(const Tensor&, const Tensor& y, Tensor& dy, Tensor* dx) {
  if (dx) softmax_backward(y, dy, *dx);
}

}  // namespace loom
