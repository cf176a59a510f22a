// The training step's per-step values, on the model's device (kernels/step_state.h has the layout): the batch
// cursor, the steps done and the learning rate. Kernels of the step read them there, so a captured CUDA graph
// replays every step of every epoch; the host writes them between steps (rewind per epoch, a new rate from a
// schedule), in stream order behind the steps already queued, and never inside a captured step.
#pragma once

#include <cstdint>

#include "engine/runtime/tensor.h"

namespace loom {

class StepState {
 public:
  StepState(Device device, float learning_rate);

  Tensor& words() { return words_; }                     // int32 [kStepStateSlots]
  const Tensor& cursor() const { return cursor_; }       // int32 [1]
  const Tensor& learning_rate() const { return rate_; }  // float32 [1]

  // Enqueued at the end of a step: the cursor moves past the batch and the step count goes up.
  void advance(int64_t rows);
  // Before an epoch: the next batch starts at the beginning of the (new) order.
  void rewind();
  // Between steps (it waits for the queued ones: meant for once an epoch). The host keeps the value too, so reading it
  // never waits for the device.
  void set_learning_rate(float learning_rate);
  float current_learning_rate() const { return host_rate_; }
  // The training steps taken (random numbers of later layers are keyed by it): read (waits for the device) and
  // restored by checkpoints, between steps.
  int32_t steps_done() const;
  void set_steps_done(int32_t steps);

 private:
  Tensor words_, cursor_, rate_;
  float host_rate_;
};

}  // namespace loom
