#include "kernels/sgd.h"

#include "engine/runtime/tensor.h"
#include "kernels/cpu_parallel.h"

namespace loom {

void sgd_update(Tensor& params, const Tensor& grads, const Tensor& learning_rate) {
  expect_shape(grads, params.shape(), "sgd_update", "gradients");
  expect_shape(learning_rate, {1}, "sgd_update", "learning rate");
  expect_same_device("sgd_update", {&params, &grads, &learning_rate});
  if (params.device() == Device::CUDA)
    cuda::sgd_update(params.f32(), grads.f32(), learning_rate.f32(), params.numel());
  else  // the CPU path: the reference on slices, one per thread
    cpu::parallel_ranges(params.numel(), 1, [&](int64_t begin, int64_t end) {
      ref::sgd_update(params.f32() + begin, grads.f32() + begin, learning_rate.f32()[0], end - begin);
    });
}

}  // namespace loom
