// Keras's SparseCategoricalCrossentropy: integer labels; from_logits says whether the model outputs logits or
// probabilities. Its metric is accuracy (the arg-max matches the label), counted by the same kernel.
#pragma once

#include "engine/losses/loss.h"

namespace loom {

class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}

  std::string name() const override { return "sparse_categorical_crossentropy"; }
  std::unique_ptr<Loss> clone() const override { return std::make_unique<SparseCategoricalCrossentropy>(*this); }
  // On probabilities from a final softmax, takes the softmax over: the model then outputs logits and the loss
  // computes softmax and its gradient in one fused, numerically stable op.
  void attach(Layer& output_layer, const Shape& output_shape) override;
  std::vector<std::string> metric_names() const override { return {"loss", "accuracy"}; }
  bool output_is_logits() const override { return from_logits_ || softmax_fused_; }
  bool took_over_softmax() const override { return softmax_fused_; }
  void compute(const Tensor& output, const Tensor& labels, Tensor& probs, Tensor* output_grad,
               Tensor& totals) const override;

  bool from_logits() const { return from_logits_; }

 private:
  bool from_logits_;
  bool softmax_fused_ = false;
};

}  // namespace loom
