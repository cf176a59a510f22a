// The interface every layer of a Sequential model implements. Shapes passed to build() are per sample (no batch
// dimension); tensors passed to forward()/backward() carry the batch as dimension 0 and may hold fewer rows than the
// model was sized for (the last partial batch, a single image).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "engine/runtime/tensor.h"
#include "kernels/philox.h"

namespace loom {

// How a parameter starts: Glorot-uniform with the given fans (Keras's default kernel initializer), zeros (bias) or
// ones (a variance).
enum class Init { Zeros, Ones, GlorotUniform };

// A parameter a layer asks the model for. Trainable ones get gradients and optimizer updates; the others (a moving
// statistic) are state the layer updates itself, saved and restored with the weights.
struct ParamSpec {
  std::string name;  // "kernel", "bias": the model names it "<layer>.<name>"
  Shape shape;
  Init init = Init::Zeros;
  int64_t fan_in = 0;   // Glorot only
  int64_t fan_out = 0;  // Glorot only
  bool trainable = true;
  // The order in which Keras's files store the axes of `shape`, when it differs from loom's: Keras's axis i is
  // loom's axis keras_axes[i]. Conv2D's kernel is [out, kh, kw, in] in loom (cuDNN's layout for NHWC) and
  // [kh, kw, in, out] in Keras, so {1, 2, 3, 0}. Empty: the same order.
  std::vector<int> keras_axes = {};
};

// Keras's get_config(): the settings that rebuild a layer, by name ("units": 128, "activation": "relu",
// "kernel_size": [3, 3], "rate": 0.25), written into saved models (engine/model/architecture.h). A real-valued
// setting is a float in the layer, written in its shortest decimal form. Each layer class reads them back in a static
// from_config(const ConfigReader&) (engine/layers/config_json.h), next to its config(), and has a line in
// engine/model/class_registry.cpp, which finds the class a file names.
using LayerSetting = std::variant<int64_t, std::string, std::vector<int64_t>, double>;
using LayerConfig = std::map<std::string, LayerSetting>;

class ConfigReader;

class Layer {
 public:
  virtual ~Layer() = default;

  // Keras's class name ("Dense") and the default name prefix ("dense"; the model adds "_1", "_2", ...).
  virtual std::string type() const = 0;
  virtual std::string default_name() const = 0;
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  virtual LayerConfig config() const { return {}; }

  // Validates the per-sample input shape and returns the per-sample output shape.
  virtual Shape build(const Shape& input) = 0;
  virtual std::vector<ParamSpec> param_specs() const { return {}; }
  // Views into the model's flat parameter and gradient buffers, one per param_specs() entry, in that order (the
  // gradient view of a non-trainable parameter exists but nothing reads it).
  virtual void bind_params(std::vector<Tensor> /*params*/, std::vector<Tensor> /*grads*/) {}
  // Called once for every batch size the layer will see (training batch, a last partial batch, a single image),
  // before the first forward() at that size and never inside a training step: plan kernels, size workspaces.
  // `needs_input_gradient` is false for a layer whose backward() will always get a null dx (the model's first
  // trainable layer), so it can skip planning what it will never compute.
  virtual void prepare(Device /*device*/, int64_t /*rows*/, bool /*needs_input_gradient*/) {}

  // Layers that draw random numbers in training (Dropout) get the training step's state (int32 [kStepStateSlots] on
  // the model's device: the draws are keyed by its step count, read there) and the key of their own stream of
  // numbers (the model's seed and the layer's place). Called by compile.
  virtual void bind_random(const Tensor& /*step_state*/, PhiloxKey /*key*/) {}  // an empty step_state unbinds

  // A layer whose output is its input, reinterpreted (Flatten): the model passes views and skips the calls.
  virtual bool output_aliases_input() const { return false; }

  // `training` is true inside fit's training steps and false for evaluation, validation and prediction (layers such
  // as Dropout and BatchNormalization behave differently).
  virtual void forward(const Tensor& x, Tensor& y, bool training) = 0;
  // dy may be overwritten (layers compute their pre-activation gradient in place). dx is null for the first
  // layer, whose input needs no gradient.
  virtual void backward(const Tensor& x, const Tensor& y, Tensor& dy, Tensor* dx) = 0;

  // Multiply-accumulates of one sample's forward pass (for FLOP counts in benchmarks; 0 for data movement).
  virtual int64_t macs_per_sample() const { return 0; }
  // Floats of temporary memory a forward or backward pass at batch size `batch` takes on `device`, beyond the buffers
  // the model holds (the CPU convolution's im2col buffers, one per thread, and its weight gradient's parts); after
  // build(). For sizing a run before anything is allocated (engine/model/training_memory.h).
  virtual int64_t scratch_floats(Device /*device*/, int64_t /*batch*/) const { return 0; }

  // The softmax hand-off, decided by the loss (engine/losses/): a loss that computes softmax itself, fused with its
  // gradient and stable, asks a final layer that ends in a softmax to output its logits instead. ends_in_softmax()
  // stays true afterwards (it describes the layer as built); hand_softmax_to_loss() may be called again.
  virtual bool ends_in_softmax() const { return false; }
  virtual void hand_softmax_to_loss() {}

 private:
  std::string name_;
};

}  // namespace loom
