#include "engine/losses/sparse_categorical_crossentropy.h"

#include "engine/runtime/errors.h"
#include "kernels/cross_entropy.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/totals.h"

namespace loom {

void SparseCategoricalCrossentropy::attach(Layer& output_layer, const Shape& output_shape) {
  if (output_shape.size() != 1)
    throw UsageError("compile: sparse categorical cross-entropy needs a [batch, classes] output, the model gives " +
                     keras_shape(output_shape));
  softmax_fused_ = false;
  if (!from_logits_ && output_layer.ends_in_softmax()) {
    output_layer.hand_softmax_to_loss();
    softmax_fused_ = true;
  }
}

void SparseCategoricalCrossentropy::compute(const Tensor& output, const Tensor& labels, Tensor& probs,
                                            Tensor* output_grad, Tensor& totals) const {
  static_assert(kLossSum == 0 && kCorrectCount == 1, "metric_names() lists the kernels' totals slots in order");
  const float scale = 1.f / static_cast<float>(output.dim(0));  // Keras's loss is the batch mean
  if (output_is_logits()) {
    // Probabilities go to their own buffer, never over the logits: a handed-over Softmax layer shares its buffer
    // with the layer before it, whose backward pass may still read it (a ReLU's mask).
    softmax_cross_entropy(output, labels, probs, output_grad, scale, &totals);
  } else {
    cross_entropy_probabilities(output, labels, output_grad, scale, &totals);
  }
}

}  // namespace loom
