// What changes from one training step to the next, kept on the device in one small int32 tensor so that kernels read
// it there instead of taking it as launch arguments: a captured CUDA graph then replays every step of an epoch, and
// follows a learning rate the host changes between replays. The host writes it only while no step is queued.
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

enum StepStateSlot : int {
  kBatchCursor = 0,   // int32: first position of the next batch in the epoch's sample order
  kStepsDone = 1,     // int32: training steps completed (random numbers of later layers are keyed by it)
  kLearningRate = 2,  // float32 bits: the rate the optimizer applies in the next step
  kStepStateSlots = 4,
};

// The end of a step: cursor += rows, steps += 1. state: int32 [kStepStateSlots].
void advance_step(Tensor& state, int64_t rows);

namespace ref {
void advance_step(int32_t* state, int32_t rows);
}
namespace cuda {
void advance_step(int32_t* state, int32_t rows);
}

}  // namespace loom
