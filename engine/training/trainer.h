// Trains a compiled Sequential, as tiny-cuda-nn's Trainer(model, optimizer, loss) trains a network that never sees
// it: the model holds the layers, the parameters, the optimizer and the loss; the Trainer holds what training adds
// (the step state with its step count and learning rate, the loss totals, the captured CUDA graph) and the loop
// that drives the model (fit, engine/training/fit.cpp).
//
// One Trainer carries a run across calls: a second fit goes on where the first stopped (Adam's step count, the
// learning rate a schedule left, an uploaded data set's shuffle generator), so fitting e epochs and then k more
// trains exactly as fitting e + k at once. When the model is compiled again (Sequential::compile_count changes), the
// Trainer starts its training state afresh at its next use, as the recompiled model's optimizer does. A second
// Trainer of the same model starts a step state of its own at the optimizer's step count (the moments and the count
// are the model's) and the optimizer's initial rate: to continue a run exactly (a schedule's rate, an uploaded data
// set's shuffle), keep its Trainer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/data/labeled_images.h"
#include "engine/runtime/tensor.h"
#include "engine/training/fit_options.h"

namespace loom {

class DeviceDataset;
class Sequential;
class TrainStep;

class Trainer {
 public:
  // The model must be compiled and must outlive the Trainer.
  explicit Trainer(Sequential& model);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Returns one EpochResult per epoch trained. The data set is uploaded for this fit and shuffled from options.seed.
  History fit(const LabeledImages& data, const FitOptions& options);
  // The same on a data set uploaded once (engine/data/device_dataset.h): it keeps its shuffle generator from one
  // fit to the next (options.seed is not used), so fitting e epochs and then k more trains exactly as fitting e + k
  // at once. Validation comes from options.validation_data (there is no split of an uploaded set).
  History fit(DeviceDataset& data, const FitOptions& options);

  // The learning rate the next training step will use (a schedule changes it between epochs).
  float learning_rate() const;
  void set_learning_rate(float learning_rate);
  // How often fit has captured its training step as a CUDA graph (again each time the last capture went stale),
  // and why capture failed, if it did (fit then trains with ordinary launches and tries no more).
  int64_t graph_captures() const;
  const std::string& graph_failure() const;
  // The training step: its state, totals and graph (engine/training/train_step.h), with the model's random streams
  // bound to its state.
  TrainStep& step();

  // One training step on a batch already on the model's device: x float [n, ...input], labels int32 [n]. Loss and
  // accuracy are added to the training totals. Exposed for tests and benchmarks.
  void train_step(const Tensor& x, const Tensor& labels);

  Sequential& model() { return model_; }

 private:
  History fit_on(DeviceDataset& train, const LabeledImages* validation, const FitOptions& options);
  // False after the model was compiled again: step_ belongs to the compilation before, step() makes a new one.
  bool step_is_current() const;

  Sequential& model_;
  std::unique_ptr<TrainStep> step_;
  int64_t step_compilation_ = 0;  // the model's compile_count() when step_ was made
};

}  // namespace loom
