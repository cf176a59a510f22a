#include "kernels/dropout.h"

#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/step_state.h"

namespace loom {

float dropout_scale(float rate) { return 1.f / (1.f - rate); }

void dropout(const Tensor& x, Tensor& y, float rate, PhiloxKey key, const Tensor& step_state) {
  const char* op = "dropout";
  if (!(rate >= 0.f && rate < 1.f)) throw Error("dropout: the rate must lie in [0, 1), got " + std::to_string(rate));
  expect_shape(y, x.shape(), op, "output");
  expect_shape(step_state, {kStepStateSlots}, op, "step state");
  if (x.dtype() != DType::F32 || y.dtype() != DType::F32 || step_state.dtype() != DType::I32)
    throw Error("dropout: expects float32 tensors and an int32 step state");
  expect_same_device(op, {&x, &y, &step_state});
  if (x.device() == Device::CUDA)
    cuda::dropout(x.f32(), y.f32(), x.numel(), rate, key, step_state.data<int32_t>());
  else
    ref::dropout(x.f32(), y.f32(), x.numel(), rate, key, step_state.data<int32_t>()[kStepsDone]);
}

}  // namespace loom
