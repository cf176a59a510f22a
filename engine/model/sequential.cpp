#include "engine/model/sequential.h"

#include <algorithm>
#include <map>

#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "kernels/totals.h"

namespace loom {
namespace {

Shape with_batch(int64_t rows, const Shape& sample) {
  Shape s{rows};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

}  // namespace

std::vector<std::string> automatic_layer_names(const std::vector<std::unique_ptr<Layer>>& layers) {
  std::map<std::string, int> seen;
  std::vector<std::string> names;
  for (const auto& layer : layers) {
    const int index = seen[layer->default_name()]++;
    names.push_back(index == 0 ? layer->default_name() : layer->default_name() + "_" + std::to_string(index));
  }
  return names;
}

Sequential::Sequential(std::string name) : name_(std::move(name)) {}
Sequential::~Sequential() = default;

void Sequential::add(std::unique_ptr<Layer> layer) {
  if (built_) throw UsageError("Sequential '" + name_ + "': cannot add layers after build()");
  layers_.push_back(std::move(layer));
}

void Sequential::require_built(const char* what) const {
  if (!built_) throw UsageError(std::string(what) + ": call build() first");
}

void Sequential::require_compiled(const char* what) const {
  require_built(what);
  if (!optimizer_) throw UsageError(std::string(what) + ": call compile() first");
}

Optimizer& Sequential::optimizer() {
  if (!optimizer_) throw UsageError("optimizer: call compile() first");
  return *optimizer_;
}

const Loss& Sequential::loss() const {
  if (!loss_) throw UsageError("loss: call compile() first");
  return *loss_;
}

void Sequential::build(const Shape& input_shape, Device device, uint64_t seed) {
  if (layers_.empty()) throw UsageError("Sequential '" + name_ + "': add layers before build()");
  if (built_) throw UsageError("Sequential '" + name_ + "': build() called twice");
  if (input_shape.empty()) throw UsageError("Sequential '" + name_ + "': input shape must have at least one dimension");
  for (int64_t d : input_shape)
    if (d <= 0) throw UsageError("Sequential '" + name_ + "': input shape " + shape_str(input_shape) + " is empty");
  device_ = device;
  random_seed_ = seed;

  shapes_ = {input_shape};
  const std::vector<std::string> names = automatic_layer_names(layers_);
  std::vector<std::vector<ParamSpec>> specs;
  for (size_t i = 0; i < layers_.size(); ++i) {
    auto& layer = layers_[i];
    layer->set_name(names[i]);
    shapes_.push_back(layer->build(shapes_.back()));
    specs.push_back(layer->param_specs());
  }
  store_.allocate(names, specs, device, seed);

  first_trainable_ = layers_.size();
  size_t next = 0;  // the store lists parameters layer by layer, in declaration order
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<Tensor> values, grads;
    for (size_t k = 0; k < specs[i].size(); ++k, ++next) {
      const Parameter& p = store_.parameters().at(next);
      values.push_back(store_.value(p));
      grads.push_back(store_.gradient(p));
      if (p.trainable) first_trainable_ = std::min(first_trainable_, i);
    }
    layers_[i]->bind_params(std::move(values), std::move(grads));
  }
  built_ = true;
}

void Sequential::compile(std::unique_ptr<Optimizer> optimizer, const Loss& loss) {
  require_built("compile");
  if (!optimizer) throw UsageError("compile: no optimizer given");
  // The kernels, the running-totals snapshot and the loops all count exactly two sums.
  if (loss.metric_names().size() != static_cast<size_t>(kTotalsSlots))
    throw UsageError("compile: loss '" + loss.name() + "' declares " + std::to_string(loss.metric_names().size()) +
                     " totals; loom's training loop reads exactly " + std::to_string(kTotalsSlots) +
                     " (the loss and one metric)");
  std::unique_ptr<Loss> attached = loss.clone();
  attached->attach(*layers_.back(), shapes_.back());
  optimizer_ = std::move(optimizer);
  optimizer_->prepare(store_.trainable_values());
  loss_ = std::move(attached);
  capacity_ = 0;  // buffer aliasing may have changed (a handed-over Softmax): reallocate on next use
  views_.clear();
  unbind_random_streams();  // the training state they were bound to is no longer this compilation's
  ++compile_count_;
}

void Sequential::set_random_seed(uint64_t seed) {
  random_seed_ = seed;
  if (!random_state_.empty()) bind_random_streams(random_state_);
}

void Sequential::bind_random_streams(const Tensor& step_state) {
  random_state_ = step_state.view();
  for (size_t i = 0; i < layers_.size(); ++i)
    layers_[i]->bind_random(random_state_, philox_key(random_seed_, kFirstLayerStream + static_cast<uint32_t>(i)));
}

void Sequential::unbind_random_streams() {
  random_state_ = Tensor();
  for (const auto& layer : layers_) layer->bind_random(Tensor(), PhiloxKey{});
}

bool Sequential::random_streams_bound_to(const Tensor& step_state) const {
  return !random_state_.empty() && random_state_.raw() == step_state.raw();
}

int64_t Sequential::training_flops_per_sample() const {
  int64_t flops = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    int64_t macs = layers_[i]->macs_per_sample();
    flops += 2 * macs * (i > first_trainable_ ? 3 : 2);
  }
  return flops;
}

void Sequential::ensure_capacity(int64_t rows) {
  if (rows <= capacity_) return;
  if (device_ == Device::CUDA) CudaContext::get().synchronize();  // queued work may still use the old buffers
  views_.clear();
  acts_.clear();
  act_grads_.clear();
  acts_.emplace_back(with_batch(rows, shapes_[0]), device_);
  act_grads_.emplace_back(with_batch(rows, shapes_[0]), device_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    Shape next = with_batch(rows, shapes_[i + 1]);
    if (layers_[i]->output_aliases_input()) {
      acts_.push_back(acts_[i].reshaped(next));
      act_grads_.push_back(act_grads_[i].reshaped(next));
    } else {
      acts_.emplace_back(next, device_);
      act_grads_.emplace_back(next, device_);
    }
  }
  probs_ = Tensor(with_batch(rows, shapes_.back()), device_);
  labels_ = Tensor({rows}, device_, DType::I32);
  capacity_ = rows;
}

BatchViews& Sequential::views_for(int64_t rows) {
  require_built("views_for");
  ensure_capacity(rows);
  auto& slot = views_[rows];
  if (!slot) {
    slot = std::make_unique<BatchViews>();
    slot->rows = rows;
    for (auto& t : acts_) slot->acts.push_back(t.rows(0, rows));
    for (auto& t : act_grads_) slot->grads.push_back(t.rows(0, rows));
    slot->probs = probs_.rows(0, rows);
    slot->labels = labels_.rows(0, rows);
    for (size_t i = 0; i < layers_.size(); ++i) layers_[i]->prepare(device_, rows, i > first_trainable_);
  }
  return *slot;
}

BatchViews& Sequential::load_batch(const Tensor& x, const Tensor& labels) {
  BatchViews& v = views_for(x.dim(0));
  v.acts[0].copy_from(x);
  v.labels.copy_from(labels);
  return v;
}

void Sequential::forward(BatchViews& v, bool training) {
  for (size_t i = 0; i < layers_.size(); ++i)
    if (!layers_[i]->output_aliases_input()) layers_[i]->forward(v.acts[i], v.acts[i + 1], training);
}

void Sequential::compute_loss(BatchViews& v, Tensor& totals, bool with_gradient) {
  loss_->compute(v.acts.back(), v.labels, v.probs, with_gradient ? &v.grads.back() : nullptr, totals);
}

void Sequential::backward(BatchViews& v) {
  for (size_t i = layers_.size(); i-- > first_trainable_;) {
    if (layers_[i]->output_aliases_input()) continue;
    Tensor* dx = i > first_trainable_ ? &v.grads[i] : nullptr;
    layers_[i]->backward(v.acts[i], v.acts[i + 1], v.grads[i + 1], dx);
  }
}

}  // namespace loom
