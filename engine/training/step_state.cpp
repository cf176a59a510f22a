#include "engine/training/step_state.h"

#include "kernels/step_state.h"

namespace loom {

StepState::StepState(Device device, float learning_rate)
    : words_(Tensor::zeros({kStepStateSlots}, device, DType::I32)),
      cursor_(Tensor::wrap(words_.data<int32_t>() + kBatchCursor, {1}, device, DType::I32)),
      rate_(Tensor::wrap(words_.data<int32_t>() + kLearningRate, {1}, device, DType::F32)),
      host_rate_(learning_rate) {
  set_learning_rate(learning_rate);
}

void StepState::advance(int64_t rows) { advance_step(words_, rows); }

void StepState::rewind() { cursor_.zero(); }

int32_t StepState::steps_done() const {
  int32_t steps = 0;
  Tensor::wrap(&steps, {1}, Device::CPU, DType::I32)
      .copy_from(Tensor::wrap(words_.data<int32_t>() + kStepsDone, {1}, words_.device(), DType::I32));
  return steps;
}

void StepState::set_steps_done(int32_t steps) {
  Tensor::wrap(words_.data<int32_t>() + kStepsDone, {1}, words_.device(), DType::I32)
      .copy_from(Tensor::wrap(&steps, {1}, Device::CPU, DType::I32));
}

void StepState::set_learning_rate(float learning_rate) {
  host_rate_ = learning_rate;
  rate_.copy_from(Tensor::wrap(&host_rate_, {1}, Device::CPU, DType::F32));
}

}  // namespace loom
