// Optimizers update the model's one flat parameter buffer from its one flat gradient buffer: a single kernel launch
// per step, whatever the number of layers.
#pragma once

#include <memory>
#include <string>

#include "engine/tensor.h"
#include "kernels/adam.h"

namespace loom {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string name() const = 0;
  // Allocates state shaped like the parameters, on their device; resets any earlier state.
  virtual void prepare(const Tensor& params) = 0;
  // Enqueues one update; no host synchronization.
  virtual void step(Tensor& params, const Tensor& grads) = 0;
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamHyper hyper = {});
  std::string name() const override { return "Adam"; }
  void prepare(const Tensor& params) override;
  void step(Tensor& params, const Tensor& grads) override;
  const AdamHyper& hyper() const { return hyper_; }

 private:
  AdamHyper hyper_;
  Tensor m_, v_, schedule_;
};

class SGD : public Optimizer {
 public:
  explicit SGD(float learning_rate = 0.01f);
  std::string name() const override { return "SGD"; }
  void prepare(const Tensor&) override {}
  void step(Tensor& params, const Tensor& grads) override;

 private:
  float learning_rate_;
};

}  // namespace loom
