#include "engine/training/train_step.h"

#include <iostream>

#include "engine/data/device_dataset.h"
#include "engine/model/sequential.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_graph.h"
#include "engine/runtime/errors.h"

namespace loom {

TrainStep::TrainStep(Sequential& model)
    : model_(model),
      state_(model.device(), model.optimizer().initial_learning_rate()),
      totals_(Tensor::zeros({static_cast<int64_t>(model.loss().metric_names().size())}, model.device())),
      trainable_values_(model.parameter_store().trainable_values()),
      trainable_gradients_(model.parameter_store().trainable_gradients()) {}

TrainStep::~TrainStep() = default;

void TrainStep::enqueue(const DeviceDataset* data, BatchViews& v) {
  if (data) data->gather_training(state_.cursor(), state_.words(), v.acts[0], v.labels);
  model_.forward(v, /*training=*/true);
  model_.compute_loss(v, totals_, /*with_gradient=*/true);
  model_.backward(v);
  model_.optimizer().step(trainable_values_, trainable_gradients_, state_.learning_rate());
  state_.advance(v.rows);
}

void TrainStep::begin_fit() { warmed_up_ = false; }

void TrainStep::begin_epoch() {
  totals_.zero();
  state_.rewind();
}

bool TrainStep::run(const DeviceDataset& data, BatchViews& v, bool use_graph) {
  if (use_graph && warmed_up_ && model_.device() == Device::CUDA && replay(data, v)) return true;
  enqueue(&data, v);
  warmed_up_ = true;
  return false;
}

void TrainStep::run_on(BatchViews& v) { enqueue(nullptr, v); }

bool TrainStep::replay(const DeviceDataset& data, BatchViews& v) {
  if (!graph_failure_.empty()) return false;
  if (!graph_) graph_ = std::make_unique<CudaGraph>();
  const bool tf32 = CudaContext::get().tf32();
  if (!graph_->ready() || graph_->stale() || graph_data_ != &data || graph_rows_ != v.rows || graph_tf32_ != tf32 ||
      !(graph_augmentation_ == data.augmentation()) || graph_random_seed_ != model_.random_seed()) {
    try {
      graph_->capture([&] { enqueue(&data, v); });
    } catch (const Error& e) {  // nothing ran: the caller launches the step itself, now and from now on
      graph_failure_ = e.what();
      std::cerr << "loom: CUDA graph capture failed, training without graphs: " << graph_failure_ << "\n";
      return false;
    }
    graph_data_ = &data;
    graph_rows_ = v.rows;
    graph_tf32_ = tf32;
    graph_augmentation_ = data.augmentation();
    graph_random_seed_ = model_.random_seed();  // the dropout and augmentation keys are launch arguments
    ++graph_captures_;
  }
  graph_->launch();
  return true;
}

}  // namespace loom
