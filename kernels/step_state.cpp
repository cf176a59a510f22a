#include "kernels/step_state.h"

#include <limits>
#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

void advance_step(Tensor& state, int64_t rows) {
  expect_shape(state, {kStepStateSlots}, "advance_step", "step state");
  if (state.dtype() != DType::I32) throw Error("advance_step: the step state must be int32");
  if (rows < 0 || rows > std::numeric_limits<int32_t>::max())
    throw Error("advance_step: " + std::to_string(rows) + " rows do not fit the int32 cursor");
  if (state.device() == Device::CUDA)
    cuda::advance_step(state.data<int32_t>(), static_cast<int32_t>(rows));
  else
    ref::advance_step(state.data<int32_t>(), static_cast<int32_t>(rows));
}

}  // namespace loom
