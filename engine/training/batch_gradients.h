// One batch's loss and gradients at the current parameters, without an update: what gradient checks compare
// (central differences of batch_loss against compute_gradients). Both run the model in training mode, so layers that
// draw random numbers (Dropout) draw them from the trainer's step state, and since neither advances it, both draw
// the same masks.
#pragma once

#include "engine/runtime/tensor.h"

namespace loom {

class Trainer;

// Forward, loss and backward into the model's gradients(), parameters unchanged. x float [n, ...input] and labels
// int32 [n] on the model's device. The loss is added to the trainer's step totals.
void compute_gradients(Trainer& trainer, const Tensor& x, const Tensor& labels);
// The mean loss of the batch, read on the host (waits for the device). The trainer's step totals hold it afterwards.
double batch_loss(Trainer& trainer, const Tensor& x, const Tensor& labels);

}  // namespace loom
