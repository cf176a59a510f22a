// The training step: gather, forward, loss, backward, update and the step state's advance, enqueued top-down in
// enqueue() and nowhere else. On the GPU a full batch is captured once as a CUDA graph and replayed; the graph is
// captured again when it has gone stale (a buffer it points at was freed), when the data set, its augmentation, the
// random seed, the batch size or TF32 changed. The step's per-step values live in its StepState, its loss and
// metric sums in its totals.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/runtime/tensor.h"
#include "engine/training/step_state.h"
#include "kernels/gather_batch.h"

namespace loom {

class CudaGraph;
class DeviceDataset;
class Sequential;
struct BatchViews;

class TrainStep {
 public:
  // Made by a Trainer (engine/training/trainer.h) for a compiled model: its optimizer and loss are set, its
  // parameters allocated.
  explicit TrainStep(Sequential& model);
  ~TrainStep();
  TrainStep(const TrainStep&) = delete;
  TrainStep& operator=(const TrainStep&) = delete;

  StepState& state() { return state_; }
  const StepState& state() const { return state_; }
  Tensor& totals() { return totals_; }  // float [loss metrics]: sums over the epoch's samples so far

  // Before a fit: its first step runs as ordinary launches (libraries load kernels and size workspaces on first
  // use, never inside a capture).
  void begin_fit();
  // Before an epoch: totals to zero, the cursor to the start of the epoch's order.
  void begin_epoch();
  // The step on the batch of `rows` samples at the cursor of `data`. Replays the captured graph when `use_graph`
  // allows it; returns whether it did.
  bool run(const DeviceDataset& data, BatchViews& v, bool use_graph);
  // The step on a batch already in v.acts[0] and v.labels (tests and benchmarks); ordinary launches.
  void run_on(BatchViews& v);

  int64_t graph_captures() const { return graph_captures_; }
  const std::string& graph_failure() const { return graph_failure_; }

 private:
  void enqueue(const DeviceDataset* data, BatchViews& v);
  bool replay(const DeviceDataset& data, BatchViews& v);

  Sequential& model_;
  StepState state_;
  Tensor totals_;
  Tensor trainable_values_, trainable_gradients_;  // views made once: a step builds no tensors
  bool warmed_up_ = false;

  std::unique_ptr<CudaGraph> graph_;
  const DeviceDataset* graph_data_ = nullptr;
  int64_t graph_rows_ = 0;
  bool graph_tf32_ = false;
  Augmentation graph_augmentation_;
  uint64_t graph_random_seed_ = 0;
  int64_t graph_captures_ = 0;
  std::string graph_failure_;
};

}  // namespace loom
