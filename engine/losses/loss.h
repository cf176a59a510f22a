// The interface a loss implements. A loss turns the model's output and the integer labels into the batch's summed
// loss and metric counts (added to a device-side totals tensor the host reads once per epoch) and, in training,
// the gradient of the batch-mean loss with respect to the output. It owns the softmax hand-off: at compile it may
// ask the output layer for logits and compute softmax itself, fused with its gradient.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/runtime/tensor.h"

namespace loom {

class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  virtual std::unique_ptr<Loss> clone() const = 0;

  // Called by compile with the model's output layer and per-sample output shape; throws UsageError if the loss
  // cannot train such a model.
  virtual void attach(Layer& output_layer, const Shape& output_shape) = 0;
  // The totals this loss accumulates, one float slot each, in slot order: {"loss", "accuracy"} for a classifier.
  // The host divides each by the number of samples.
  virtual std::vector<std::string> metric_names() const = 0;
  // Whether the model's output (after attach) is logits, which predict must turn into probabilities.
  virtual bool output_is_logits() const = 0;
  // Whether that is because the loss took over the output layer's softmax: the layers still end in one, which a
  // prediction of the layers' own outputs must apply.
  virtual bool took_over_softmax() const = 0;

  // Adds the batch's loss sum and metric counts to `totals` (float [metric_names().size()]). With `output_grad`,
  // writes d(mean loss over the batch)/d(output) there. `probs` is the loss's scratch, shaped like the output.
  virtual void compute(const Tensor& output, const Tensor& labels, Tensor& probs, Tensor* output_grad,
                       Tensor& totals) const = 0;
};

}  // namespace loom
