// A linear stack of layers, used the way Keras's Sequential is: add layers, build for an input shape, compile with
// an optimizer and a loss. A Trainer (engine/training/trainer.h) fits it; evaluate and predict
// (engine/training/inference.h) run it on a data set.
//
// This file is the model itself: its layers and their shapes, its named parameters (engine/model/
// parameter_store.h), the buffers its activations live in, and the forward and backward traversals. It knows
// nothing of the loops that drive it, as tiny-cuda-nn's networks know nothing of their Trainer: the loss is in
// engine/losses/, the optimizers in engine/optimizers/, everything about training in engine/training/.
//
// Activations and their gradients are allocated for the largest batch before training starts, so a training step
// only enqueues work on the context's stream: no allocation, no host synchronization.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/losses/loss.h"
#include "engine/losses/sparse_categorical_crossentropy.h"
#include "engine/model/parameter_store.h"
#include "engine/optimizers/optimizer.h"
#include "engine/runtime/tensor.h"

namespace loom {

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
  // How many times compile() has run: a Trainer that sees it change starts its training state afresh, as a Keras
  // model recompiled starts training anew.
  int64_t compile_count() const { return compile_count_; }
  bool compiled() const { return optimizer_ != nullptr; }

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
  // Rebinds the random streams to the new seed if they are bound.
  void set_random_seed(uint64_t seed);
  // Keys each layer's random stream by this model's seed and the layer's index, and points it at `step_state` (int32
  // [kStepStateSlots], the training step's counters, kernels/step_state.h), which must outlive the binding: a
  // mask drawn in training is a function of the seed, the layer and the step count. compile() unbinds them.
  void bind_random_streams(const Tensor& step_state);
  bool random_streams_bound_to(const Tensor& step_state) const;
  // Points no layer at a step state any more (one about to be freed): a layer that draws then refuses to train.
  void unbind_random_streams();
  const std::string& name() const { return name_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  const Shape& input_shape() const { return shapes_.front(); }
  const Shape& output_shape() const { return shapes_.back(); }
  // The per-sample shape layer `i` outputs (after build).
  const Shape& layer_output_shape(size_t i) const { return shapes_.at(i + 1); }
  ParameterStore& parameter_store() { return store_; }
  Tensor& parameters() { return store_.values(); }
  Tensor& gradients() { return store_.gradients(); }
  Optimizer& optimizer();
  const Loss& loss() const;

  // The pieces a step is made of, for the loops in engine/training/. views_for() may allocate (never call it
  // inside a step); the others only enqueue work. forward(v, true) with layers that draw random numbers needs the
  // random streams bound (bind_random_streams).
  BatchViews& views_for(int64_t rows);
  // views_for(x's rows) with a batch already on the model's device copied in: x float [n, ...input], labels
  // int32 [n] (tests, benchmarks and gradient checks feed batches this way).
  BatchViews& load_batch(const Tensor& x, const Tensor& labels);
  void forward(BatchViews& v, bool training);
  void compute_loss(BatchViews& v, Tensor& totals, bool with_gradient);
  void backward(BatchViews& v);
  void require_built(const char* what) const;
  void require_compiled(const char* what) const;

 private:
  void ensure_capacity(int64_t rows);

  std::string name_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> shapes_;  // per-sample shape entering layer i; shapes_.back() is the output
  Device device_ = Device::CPU;
  uint64_t random_seed_ = 0;  // keys the random numbers of training (dropout, augmentation); build's seed at first
  bool built_ = false;

  ParameterStore store_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Loss> loss_;
  int64_t compile_count_ = 0;
  Tensor random_state_;         // a view of the step state the random streams are bound to; empty: unbound
  size_t first_trainable_ = 0;  // layers before it need no input gradient

  int64_t capacity_ = 0;
  std::vector<Tensor> acts_, act_grads_;  // [capacity, shape_i...] per boundary; aliases are views
  Tensor probs_, labels_;
  std::map<int64_t, std::unique_ptr<BatchViews>> views_;
};

}  // namespace loom
