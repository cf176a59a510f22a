#include "kernels/relu.h"

#include "engine/runtime/tensor.h"
#include "kernels/cpu_parallel.h"

namespace loom {

void relu_forward(const Tensor& x, Tensor& y) {
  expect_shape(y, x.shape(), "relu_forward", "output");
  expect_same_device("relu_forward", {&x, &y});
  if (x.device() == Device::CUDA)
    cuda::relu_forward(x.f32(), y.f32(), x.numel());
  else  // the CPU path: the reference on slices, one per thread
    cpu::parallel_ranges(x.numel(), 1, [&](int64_t begin, int64_t end) {
      ref::relu_forward(x.f32() + begin, y.f32() + begin, end - begin);
    });
}

void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) {
  expect_shape(dy, y.shape(), "relu_backward", "dy");
  expect_shape(dx, y.shape(), "relu_backward", "dx");
  expect_same_device("relu_backward", {&y, &dy, &dx});
  if (y.device() == Device::CUDA)
    cuda::relu_backward(y.f32(), dy.f32(), dx.f32(), y.numel());
  else
    cpu::parallel_ranges(y.numel(), 1, [&](int64_t begin, int64_t end) {
      ref::relu_backward(y.f32() + begin, dy.f32() + begin, dx.f32() + begin, end - begin);
    });
}

}  // namespace loom
