// A linear stack of layers, used the way Keras's Sequential is: add layers, build for an input shape, compile with
// an optimizer and a loss, then fit / evaluate / predict.
//
// All parameters live in one flat buffer (and their gradients in another of the same layout); layers hold views.
// Activations and their gradients are allocated for the largest batch before training starts, so a training step
// (gather, forward, loss, backward, update) only enqueues work on the context's stream: no allocation, no host
// synchronization. Loss and accuracy accumulate on the device and are read once per epoch.
#pragma once

#include <cstdint>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/labeled_images.h"
#include "engine/layer.h"
#include "engine/optimizer.h"
#include "engine/tensor.h"

namespace loom {

class CudaGraph;

// Keras's SparseCategoricalCrossentropy: integer labels; from_logits says whether the model outputs logits or
// probabilities.
struct SparseCategoricalCrossentropy {
  bool from_logits = false;
};

// When fit's progress bar redraws in place with the running loss and accuracy (read from the GPU through a
// snapshot that never stalls it) instead of printing only each epoch's final line.
enum class LiveProgress {
  WhenTerminal,  // when `out` is std::cout and stdout is a terminal
  Always,        // whatever `out` is (tests run the GPU snapshot path this way)
  Never,
};

struct FitOptions {
  int epochs = 1;
  int64_t batch_size = 32;
  bool shuffle = true;
  uint64_t seed = 0;
  int verbose = 1;                      // 0 silent, 1 progress bar per epoch
  std::ostream* out = &std::cout;
  LiveProgress live_progress = LiveProgress::WhenTerminal;  // with verbose 0 there is no bar at all
  int64_t max_steps_per_epoch = 0;      // 0: the whole data set each epoch (tests use a few steps)
  // On the GPU, capture the training step once as a CUDA graph and replay it for every full batch (the last,
  // partial batch of an epoch runs as ordinary launches). Off: every step is ordinary launches. If capture fails,
  // fit says so once on stderr and trains with ordinary launches; EpochResult::graph_steps tells which happened.
  bool cuda_graph = true;
};

struct EpochResult {
  double loss = 0;
  double accuracy = 0;
  double seconds = 0;           // host wall clock, the epoch's final synchronization included
  double device_ms = 0;         // GPU only: CUDA-event time of the epoch's steps (the order's upload excluded)
  size_t device_bytes_in_use = 0;  // GPU memory held by loom's buffers at the epoch's end
  int64_t graph_steps = 0;         // steps that were replays of the captured CUDA graph (0: ordinary launches only)
};

struct Evaluation {
  double loss = 0;
  double accuracy = 0;
  double seconds = 0;
};

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

  // Sizes every layer for a per-sample input shape (e.g. {28, 28}), allocates the flat parameter buffer on `device`
  // and initialises it (Glorot-uniform kernels, zero biases) from `seed`.
  void build(const Shape& input_shape, Device device, uint64_t seed = 0);
  void compile(std::unique_ptr<Optimizer> optimizer, SparseCategoricalCrossentropy loss);

  std::string summary() const;  // Keras's text table
  int64_t param_count() const { return param_count_; }
  // FLOPs of one training step per sample: forward, and backward for weights and for the inputs of every layer
  // after the first trainable one (loom skips the gradient nothing needs). Multiply-adds count 2.
  int64_t training_flops_per_sample() const;
  Device device() const { return device_; }
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  Tensor& parameters() { return params_; }
  Tensor& gradients() { return grads_; }
  // How often fit has captured its training step as a CUDA graph (again each time the last capture went stale),
  // and why capture failed, if it did (fit then trains with ordinary launches and tries no more).
  int64_t graph_captures() const { return graph_captures_; }
  const std::string& graph_failure() const { return graph_failure_; }

  std::vector<EpochResult> fit(const LabeledImages& data, const FitOptions& options);
  // verbose 1 prints Keras's evaluate line: "313/313 - 0s - loss: 0.3364 - accuracy: 0.8826 - ..."
  Evaluation evaluate(const LabeledImages& data, int64_t batch_size = 32, int verbose = 0,
                      std::ostream& out = std::cout);
  // Class probabilities, [N, classes] on the host, for uint8 images (scaled by 1/255 as in training) or float32
  // images already scaled.
  Tensor predict(const Tensor& images, int64_t batch_size = 32);

  // One training step on a batch already on the model's device: x float [n, ...input], labels int32 [n]. Returns
  // nothing; loss and accuracy are added to the device totals. Exposed for tests and benchmarks.
  void train_step(const Tensor& x, const Tensor& labels);
  // Loss of the current parameters on one batch, computed on the host (waits for the device). For gradient checks.
  double batch_loss(const Tensor& x, const Tensor& labels);
  // Forward + loss + backward into gradients(), without updating the parameters. For gradient checks.
  void compute_gradients(const Tensor& x, const Tensor& labels);

 private:
  struct BatchViews;
  enum class LossPath { SoftmaxOnLogits, SoftmaxHandedByModel, Probabilities };

  void require_built(const char* what) const;
  void require_compiled(const char* what) const;
  void ensure_capacity(int64_t rows);
  BatchViews& views_for(int64_t rows);
  void forward(BatchViews& v);
  void loss(BatchViews& v, bool with_gradient);
  void backward(BatchViews& v);
  Evaluation run_inference(const LabeledImages* data, const Tensor* images, int64_t batch_size, Tensor* probs_out);
  bool replay_step_graph(int64_t rows, const std::function<void()>& enqueue_step);

  std::string name_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<Shape> shapes_;  // per-sample shape entering layer i; shapes_.back() is the output
  Device device_ = Device::CPU;
  bool built_ = false;

  Tensor params_, grads_;  // each parameter starts on a 256-byte boundary; the gaps hold zeros
  int64_t param_count_ = 0;
  std::unique_ptr<Optimizer> optimizer_;
  SparseCategoricalCrossentropy loss_;
  LossPath loss_path_ = LossPath::SoftmaxOnLogits;
  bool compiled_ = false;
  size_t first_trainable_ = 0;  // layers before it need no input gradient

  int64_t capacity_ = 0;
  std::vector<Tensor> acts_, act_grads_;  // [capacity, shape_i...] per boundary; aliases are views
  Tensor probs_, labels_, totals_;
  std::map<int64_t, std::unique_ptr<BatchViews>> views_;

  // The training step of a full batch of graph_rows_, captured by fit; recaptured when stale, for another batch size
  // or after TF32 was switched (which reaches cuBLAS at once; cuDNN plans already made keep their math).
  std::unique_ptr<CudaGraph> step_graph_;
  int64_t graph_rows_ = 0;
  bool graph_tf32_ = false;
  int64_t graph_captures_ = 0;
  std::string graph_failure_;
};

}  // namespace loom
