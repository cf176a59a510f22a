// A linear stack of layers, used the way Keras's Sequential is: add layers, build for an input shape, compile with
// an optimizer and a loss, then fit / evaluate / predict.
//
// This file is the model itself: its layers and their shapes, its named parameters (engine/model/
// parameter_store.h), the buffers its activations live in, and the forward and backward traversals. Training and
// inference loops live in engine/training/ (fit, evaluate and predict are declared here, as Keras users expect, and
// defined there), the loss in engine/losses/, the optimizers in engine/optimizers/.
//
// Activations and their gradients are allocated for the largest batch before training starts, so a training step
// only enqueues work on the context's stream: no allocation, no host synchronization.
#pragma once

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/labeled_images.h"
#include "engine/layers/layer.h"
#include "engine/losses/loss.h"
#include "engine/losses/sparse_categorical_crossentropy.h"
#include "engine/model/parameter_store.h"
#include "engine/optimizers/optimizer.h"
#include "engine/runtime/tensor.h"
#include "engine/training/fit_options.h"

namespace loom {

class DeviceDataset;
class TrainStep;

// Views of the model's preallocated buffers for one batch size, made once so a step builds no tensors: acts[i] is
// the input of layer i (acts.back() the output), grads[i] its gradient.
struct BatchViews {
  int64_t rows = 0;
  std::vector<Tensor> acts, grads;
  Tensor probs, labels;  // the loss's scratch; int32 labels
};

// Keras's automatic layer names, as build() gives them: the first Dense is "dense", the next "dense_1", ...
std::vector<std::string> automatic_layer_names(const std::vector<std::unique_ptr<Layer>>& layers);

class Sequential {
 public:
  explicit Sequential(std::string name = "sequential");
  ~Sequential();
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  template <class L, class... Args>
  L& add(Args&&... args) {
    auto layer = std::make_unique<L>(std::forward<Args>(args)...);
    L& ref = *layer;
    add(std::move(layer));
    return ref;
  }
  void add(std::unique_ptr<Layer> layer);

  // Sizes every layer for a per-sample input shape (e.g. {28, 28}), allocates the parameters on `device` and
  // initialises them (Glorot-uniform kernels, zero biases) from `seed`.
  void build(const Shape& input_shape, Device device, uint64_t seed = 0);
  // The optimizer's state starts afresh; the loss may take over the output layer's softmax (engine/losses/loss.h).
  void compile(std::unique_ptr<Optimizer> optimizer, const Loss& loss);

  std::string summary() const;  // Keras's text table (engine/model/summary.cpp)
  int64_t param_count() const { return store_.count(); }
  int64_t trainable_param_count() const { return store_.trainable_count(); }
  // FLOPs of one training step per sample: forward, and backward for weights and for the inputs of every layer
  // after the first trainable one (loom skips the gradient nothing needs). Multiply-adds count 2.
  int64_t training_flops_per_sample() const;
  Device device() const { return device_; }
  // The seed of training's random numbers (dropout masks, augmentation; kernels/philox.h): build's seed, or the seed
  // of the run a checkpoint resumes, so the resumed run draws what the uninterrupted one would have.
  uint64_t random_seed() const { return random_seed_; }
  void set_random_seed(uint64_t seed);
  const std::string& name() const { return name_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const Shape& input_shape() const { return shapes_.front(); }
  const Shape& output_shape() const { return shapes_.back(); }
  ParameterStore& parameter_store() { return store_; }
  Tensor& parameters() { return store_.values(); }
  Tensor& gradients() { return store_.gradients(); }
  Optimizer& optimizer();
  const Loss& loss() const;

  // Training (engine/training/fit.cpp). Returns one EpochResult per epoch trained. The data set is uploaded for
  // this fit and shuffled from options.seed.
  History fit(const LabeledImages& data, const FitOptions& options);
  // The same on a data set uploaded once (engine/data/device_dataset.h): it keeps its shuffle generator from one
  // fit to the next (options.seed is not used), so fitting e epochs and then k more trains exactly as fitting e + k
  // at once. Validation comes from options.validation_data (there is no split of an uploaded set).
  History fit(DeviceDataset& data, const FitOptions& options);
  // verbose 1 prints Keras's evaluate line: "313/313 - 0s - loss: 0.3364 - accuracy: 0.8826 - ..."
  // (engine/training/inference.cpp, as are predict and the learning rate's accessors)
  Evaluation evaluate(const LabeledImages& data, int64_t batch_size = 32, int verbose = 0,
                      std::ostream& out = std::cout);
  // Class probabilities, [N, classes] on the host, for uint8 images (scaled by 1/255 as in training) or float32
  // images already scaled.
  Tensor predict(const Tensor& images, int64_t batch_size = 32);

  // The learning rate the next training step will use (a schedule changes it between epochs).
  float learning_rate() const;
  void set_learning_rate(float learning_rate);
  // How often fit has captured its training step as a CUDA graph (again each time the last capture went stale),
  // and why capture failed, if it did (fit then trains with ordinary launches and tries no more).
  int64_t graph_captures() const;
  const std::string& graph_failure() const;
  // The training step: its state, totals and graph (engine/training/train_step.h).
  TrainStep& training_step();

  // One training step on a batch already on the model's device: x float [n, ...input], labels int32 [n]. Loss and
  // accuracy are added to the training totals. Exposed for tests and benchmarks.
  void train_step(const Tensor& x, const Tensor& labels);
  // Loss of the current parameters on one batch, computed on the host (waits for the device). For gradient checks.
  double batch_loss(const Tensor& x, const Tensor& labels);
  // Forward + loss + backward into gradients(), without updating the parameters. For gradient checks.
  void compute_gradients(const Tensor& x, const Tensor& labels);

  // The pieces a step is made of, for the loops in engine/training/. views_for() may allocate (never call it
  // inside a step); the others only enqueue work.
  BatchViews& views_for(int64_t rows);
  void forward(BatchViews& v, bool training);
  void compute_loss(BatchViews& v, Tensor& totals, bool with_gradient);
  void backward(BatchViews& v);
  void require_built(const char* what) const;
  void require_compiled(const char* what) const;

 private:
  void ensure_capacity(int64_t rows);
  void bind_random_streams();
  History fit_on(DeviceDataset& train, const LabeledImages* validation, const FitOptions& options);

  std::string name_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> shapes_;  // per-sample shape entering layer i; shapes_.back() is the output
  Device device_ = Device::CPU;
  uint64_t random_seed_ = 0;  // keys the random numbers of training (dropout, augmentation); build's seed at first
  bool built_ = false;

  ParameterStore store_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  size_t first_trainable_ = 0;  // layers before it need no input gradient

  int64_t capacity_ = 0;
  std::vector<Tensor> acts_, act_grads_;  // [capacity, shape_i...] per boundary; aliases are views
  Tensor probs_, labels_;
  std::map<int64_t, std::unique_ptr<BatchViews>> views_;

  std::unique_ptr<TrainStep> train_step_;  // made by compile
};

}  // namespace loom
