#include "engine/sequential.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <unistd.h>

#include "engine/cuda_context.h"
#include "engine/cuda_graph.h"
#include "engine/epoch_timer.h"
#include "engine/errors.h"
#include "engine/progress_bar.h"
#include "engine/totals_monitor.h"
#include "kernels/cross_entropy.h"
#include "kernels/gather_batch.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/totals.h"

namespace loom {

// Views of the preallocated buffers for one batch size, made once so a step builds no tensors.
struct Sequential::BatchViews {
  int64_t rows = 0;
  std::vector<Tensor> acts, grads;
  Tensor probs, labels;
};

namespace {

Shape with_batch(int64_t rows, const Shape& sample) {
  Shape s{rows};
  s.insert(s.end(), sample.begin(), sample.end());
  return s;
}

// "(None, 784)": Keras's way of writing a shape whose batch dimension is open.
std::string keras_shape(const Shape& sample) {
  std::string s = "(None";
  for (int64_t d : sample) s += ", " + std::to_string(d);
  return s + ")";
}

Shape sample_shape(const Tensor& t) { return Shape(t.shape().begin() + 1, t.shape().end()); }

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

bool is_terminal(std::ostream& out) { return &out == &std::cout && isatty(STDOUT_FILENO); }

// Identity or shuffled sample order, as int32 on the device.
void write_order(Tensor& order, std::vector<int32_t>& host, bool shuffle, std::mt19937_64& rng) {
  std::iota(host.begin(), host.end(), 0);
  if (shuffle) std::shuffle(host.begin(), host.end(), rng);
  order.copy_from(Tensor::wrap(host.data(), {static_cast<int64_t>(host.size())}, Device::CPU, DType::I32));
}

}  // namespace

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
  if (!compiled_) throw UsageError(std::string(what) + ": call compile() first");
}

void Sequential::build(const Shape& input_shape, Device device, uint64_t seed) {
  if (layers_.empty()) throw UsageError("Sequential '" + name_ + "': add layers before build()");
  if (built_) throw UsageError("Sequential '" + name_ + "': build() called twice");
  if (input_shape.empty())
    throw UsageError("Sequential '" + name_ + "': input shape must have at least one dimension");
  for (int64_t d : input_shape)
    if (d <= 0) throw UsageError("Sequential '" + name_ + "': input shape " + shape_str(input_shape) + " is empty");
  device_ = device;

  std::map<std::string, int> seen;
  shapes_ = {input_shape};
  std::vector<std::vector<ParamSpec>> specs;
  for (auto& layer : layers_) {
    int index = seen[layer->default_name()]++;
    layer->set_name(index == 0 ? layer->default_name() : layer->default_name() + "_" + std::to_string(index));
    shapes_.push_back(layer->build(shapes_.back()));
    specs.push_back(layer->param_specs());
  }

  // Lay the parameters out in one flat buffer, each starting on a 256-byte boundary (cuBLAS and cuDNN pick their
  // fastest kernels for aligned operands; the tutorial models need no padding at all).
  constexpr int64_t kAlignFloats = 64;
  std::vector<std::vector<int64_t>> offsets(specs.size());
  int64_t total = 0;
  param_count_ = 0;
  for (size_t i = 0; i < specs.size(); ++i)
    for (const ParamSpec& p : specs[i]) {
      total = (total + kAlignFloats - 1) / kAlignFloats * kAlignFloats;
      offsets[i].push_back(total);
      total += shape_numel(p.shape);
      param_count_ += shape_numel(p.shape);
    }

  // Initialise on the host from the seed, then move to the device in one copy.
  std::vector<float> host(static_cast<size_t>(total), 0.f);
  std::mt19937 rng(static_cast<uint32_t>(seed ^ (seed >> 32)));  // every bit of a 64-bit seed counts
  for (size_t i = 0; i < specs.size(); ++i)
    for (size_t k = 0; k < specs[i].size(); ++k) {
      const ParamSpec& p = specs[i][k];
      if (!p.glorot) continue;
      float limit = std::sqrt(6.f / static_cast<float>(p.fan_in + p.fan_out));
      std::uniform_real_distribution<float> uniform(-limit, limit);
      for (int64_t j = 0; j < shape_numel(p.shape); ++j) host[offsets[i][k] + j] = uniform(rng);
    }
  params_ = Tensor::from_vector(host, {total}, device);
  grads_ = Tensor::zeros({total}, device);
  totals_ = Tensor::zeros({kTotalsSlots}, device);

  first_trainable_ = layers_.size();
  for (size_t i = 0; i < layers_.size(); ++i) {
    std::vector<Tensor> p, g;
    for (size_t k = 0; k < specs[i].size(); ++k) {
      int64_t begin = offsets[i][k], end = begin + shape_numel(specs[i][k].shape);
      p.push_back(params_.rows(begin, end).reshaped(specs[i][k].shape));
      g.push_back(grads_.rows(begin, end).reshaped(specs[i][k].shape));
    }
    if (!specs[i].empty()) first_trainable_ = std::min(first_trainable_, i);
    layers_[i]->bind_params(std::move(p), std::move(g));
  }
  built_ = true;
}

void Sequential::compile(std::unique_ptr<Optimizer> optimizer, SparseCategoricalCrossentropy loss) {
  require_built("compile");
  if (!optimizer) throw UsageError("compile: no optimizer given");
  if (shapes_.back().size() != 1)
    throw UsageError("compile: sparse categorical cross-entropy needs a [batch, classes] output, the model gives " +
                     keras_shape(shapes_.back()));
  optimizer_ = std::move(optimizer);
  optimizer_->prepare(params_);
  loss_ = loss;
  if (loss.from_logits) {
    loss_path_ = LossPath::SoftmaxOnLogits;
  } else if (loss_path_ == LossPath::SoftmaxHandedByModel || layers_.back()->ends_in_softmax()) {
    layers_.back()->hand_softmax_to_loss();
    loss_path_ = LossPath::SoftmaxHandedByModel;
  } else {
    loss_path_ = LossPath::Probabilities;
  }
  compiled_ = true;
  capacity_ = 0;  // buffer aliasing may have changed: reallocate on next use
  views_.clear();
  if (step_graph_) step_graph_->reset();  // it ran the old optimizer and loss
}

std::string Sequential::summary() const {
  require_built("summary");
  // Keras 2's print_summary layout: 65 columns with fields ending at 29, 55 and 65; a field too long for its column
  // (two spaces kept free) continues on the next line, as "max_pooling2d (MaxPooling2D" / ")" does in Keras.
  const size_t ends[] = {29, 55, 65};
  auto row = [&](std::vector<std::string> fields) {
    std::string text;
    auto pending = [&] {
      for (const std::string& f : fields)
        if (!f.empty()) return true;
      return false;
    };
    do {
      std::string line;
      for (size_t col = 0; col < fields.size(); ++col) {
        size_t start = col ? ends[col - 1] : 0;
        size_t space = col + 1 < fields.size() ? 2 : 0;
        size_t cutoff = ends[col] - start - space;
        if (col == 0) line += " ";
        line += fields[col].substr(0, cutoff) + std::string(space, ' ');
        fields[col] = fields[col].size() > cutoff ? fields[col].substr(cutoff) : "";
        if (line.size() < ends[col]) line += std::string(ends[col] - line.size(), ' ');
      }
      text += line + "\n";
    } while (pending());
    return text;
  };
  std::string s = "Model: \"" + name_ + "\"\n";
  s += std::string(65, '_') + "\n";
  s += row({"Layer (type)", "Output Shape", "Param #"});
  s += std::string(65, '=') + "\n";
  for (size_t i = 0; i < layers_.size(); ++i) {
    int64_t count = 0;
    for (const ParamSpec& p : layers_[i]->param_specs()) count += shape_numel(p.shape);
    s += row({layers_[i]->name() + " (" + layers_[i]->type() + ")", keras_shape(shapes_[i + 1]),
              std::to_string(count)});
    s += std::string(65, ' ') + "\n";
  }
  s += std::string(65, '=') + "\n";
  s += "Total params: " + with_commas(param_count()) + "\n";
  s += "Trainable params: " + with_commas(param_count()) + "\n";
  s += "Non-trainable params: 0\n";
  s += std::string(65, '_') + "\n";
  return s;
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

Sequential::BatchViews& Sequential::views_for(int64_t rows) {
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

void Sequential::forward(BatchViews& v) {
  for (size_t i = 0; i < layers_.size(); ++i)
    if (!layers_[i]->output_aliases_input()) layers_[i]->forward(v.acts[i], v.acts[i + 1]);
}

void Sequential::loss(BatchViews& v, bool with_gradient) {
  Tensor& out = v.acts.back();
  Tensor* grad = with_gradient ? &v.grads.back() : nullptr;
  float scale = 1.f / static_cast<float>(v.rows);  // Keras's loss is the batch mean
  switch (loss_path_) {
    case LossPath::SoftmaxOnLogits:
    case LossPath::SoftmaxHandedByModel:
      // Probabilities go to their own buffer, never over the logits: a handed-over Softmax layer shares its
      // buffer with the layer before it, whose backward pass may still read it (a ReLU's mask).
      softmax_cross_entropy(out, v.labels, v.probs, grad, scale, &totals_);
      break;
    case LossPath::Probabilities:
      cross_entropy_probabilities(out, v.labels, grad, scale, &totals_);
      break;
  }
}

void Sequential::backward(BatchViews& v) {
  for (size_t i = layers_.size(); i-- > first_trainable_;) {
    if (layers_[i]->output_aliases_input()) continue;
    Tensor* dx = i > first_trainable_ ? &v.grads[i] : nullptr;
    layers_[i]->backward(v.acts[i], v.acts[i + 1], v.grads[i + 1], dx);
  }
}

void Sequential::train_step(const Tensor& x, const Tensor& labels) {
  compute_gradients(x, labels);
  optimizer_->step(params_, grads_);
}

void Sequential::compute_gradients(const Tensor& x, const Tensor& labels) {
  require_compiled("compute_gradients");
  BatchViews& v = views_for(x.dim(0));
  v.acts[0].copy_from(x);
  v.labels.copy_from(labels);
  forward(v);
  loss(v, true);
  backward(v);
}

double Sequential::batch_loss(const Tensor& x, const Tensor& labels) {
  require_compiled("batch_loss");
  BatchViews& v = views_for(x.dim(0));
  v.acts[0].copy_from(x);
  v.labels.copy_from(labels);
  totals_.zero();
  forward(v);
  loss(v, false);
  return totals_.to_vector()[kLossSum] / static_cast<double>(v.rows);
}

std::vector<EpochResult> Sequential::fit(const LabeledImages& data, const FitOptions& options) {
  require_compiled("fit");
  if (options.epochs < 1) throw UsageError("fit: epochs must be at least 1, got " + std::to_string(options.epochs));
  if (options.batch_size < 1)
    throw UsageError("fit: batch size must be at least 1, got " + std::to_string(options.batch_size));
  const int64_t n = data.size();
  if (n == 0) throw UsageError("fit: the training data is empty");
  if (data.images.dtype() != DType::U8 || data.labels.dtype() != DType::U8)
    throw UsageError("fit: images and labels must be uint8, as loaded (the batch is scaled by 1/255 on the device)");
  if (sample_shape(data.images) != shapes_[0])
    throw UsageError("fit: images of shape " + shape_str(sample_shape(data.images)) + " do not fit the model's input " +
                     shape_str(shapes_[0]));
  const int64_t batch = std::min(options.batch_size, n);
  int64_t steps = (n + batch - 1) / batch;
  if (options.max_steps_per_epoch > 0) steps = std::min(steps, options.max_steps_per_epoch);
  const int64_t samples_per_epoch = std::min(n, steps * batch);

  // The data set moves to the device once; each epoch only its shuffled order does.
  Tensor images = device_ == Device::CPU ? data.images.view() : data.images.to(device_);
  Tensor labels = device_ == Device::CPU ? data.labels.view() : data.labels.to(device_);
  Tensor order({n}, device_, DType::I32);
  Tensor cursor({1}, device_, DType::I32);
  std::vector<int32_t> host_order(static_cast<size_t>(n));
  std::mt19937_64 rng(options.seed);
  views_for(batch);
  if (samples_per_epoch % batch) views_for(samples_per_epoch % batch);

  // One step, as enqueued work only: reads its batch position from `cursor` and moves it on, so the same work
  // (or its captured graph) serves every full batch.
  auto enqueue_step = [&](BatchViews& v) {
    gather_batch(images, labels, order, cursor, v.acts[0], v.labels);
    forward(v);
    loss(v, true);
    backward(v);
    optimizer_->step(params_, grads_);
    advance_cursor(cursor, v.rows);
  };
  const bool use_graph = device_ == Device::CUDA && options.cuda_graph;
  bool warmed_up = false;  // libraries load kernels and size workspaces on first use: never inside a capture
  EpochTimer timer(device_);

  std::ostream& out = *options.out;
  const bool interactive = options.verbose > 0 && (options.live_progress == LiveProgress::Always ||
                                                   (options.live_progress == LiveProgress::WhenTerminal &&
                                                    is_terminal(out)));
  // Made once per fit, outside the timed epochs (pinned memory is slow to allocate), and only for a live bar.
  std::unique_ptr<TotalsMonitor> monitor = interactive ? std::make_unique<TotalsMonitor>(device_) : nullptr;
  std::vector<EpochResult> history;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    if (options.verbose > 0) out << "Epoch " << epoch + 1 << "/" << options.epochs << "\n" << std::flush;
    auto start = std::chrono::steady_clock::now();
    write_order(order, host_order, options.shuffle, rng);
    timer.start();  // after the shuffle's upload, as the PyTorch reference times its epochs
    totals_.zero();
    cursor.zero();
    ProgressBar bar(steps, out, interactive);
    if (monitor) monitor->reset();
    int64_t graph_steps = 0;
    for (int64_t step = 0; step < steps; ++step) {
      int64_t begin = step * batch, rows = std::min(batch, n - begin);
      BatchViews& v = views_for(rows);
      if (use_graph && rows == batch && warmed_up && replay_step_graph(rows, [&] { enqueue_step(v); })) {
        ++graph_steps;
      } else {
        enqueue_step(v);
        warmed_up = true;
      }
      if (monitor) {
        monitor->request(totals_, begin + rows);
        double running_loss = -1, running_accuracy = -1;
        monitor->latest(running_loss, running_accuracy);
        bar.update(step + 1, running_loss, running_accuracy);
      }
    }
    timer.stop();
    std::vector<float> totals = totals_.to_vector();  // the epoch's one synchronization
    EpochResult result;
    result.device_ms = timer.elapsed_ms();
    result.device_bytes_in_use = Buffer::device_bytes_in_use();
    result.graph_steps = graph_steps;
    result.loss = totals[kLossSum] / static_cast<double>(samples_per_epoch);
    result.accuracy = totals[kCorrectCount] / static_cast<double>(samples_per_epoch);
    result.seconds = seconds_since(start);
    if (!std::isfinite(result.loss))
      throw Error("fit: the loss became " + std::to_string(result.loss) + " in epoch " + std::to_string(epoch + 1) +
                  " (try a lower learning rate)");
    if (options.verbose > 0) bar.finish(result.loss, result.accuracy);
    history.push_back(result);
  }
  return history;
}

bool Sequential::replay_step_graph(int64_t rows, const std::function<void()>& enqueue_step) {
  if (!graph_failure_.empty()) return false;
  if (!step_graph_) step_graph_ = std::make_unique<CudaGraph>();
  const bool tf32 = CudaContext::get().tf32();
  if (!step_graph_->ready() || step_graph_->stale() || graph_rows_ != rows || graph_tf32_ != tf32) {
    try {
      step_graph_->capture(enqueue_step);
    } catch (const Error& e) {  // nothing ran: the caller launches the step itself, now and from now on
      graph_failure_ = e.what();
      std::cerr << "loom: CUDA graph capture failed, training without graphs: " << graph_failure_ << "\n";
      return false;
    }
    graph_rows_ = rows;
    graph_tf32_ = tf32;
    ++graph_captures_;
  }
  step_graph_->launch();
  return true;
}

Evaluation Sequential::run_inference(const LabeledImages* data, const Tensor* images_in, int64_t batch_size,
                                     Tensor* probs_out) {
  const Tensor& images_host = data ? data->images : *images_in;
  const int64_t n = images_host.rank() ? images_host.dim(0) : 0;
  if (batch_size < 1) throw UsageError("batch size must be at least 1, got " + std::to_string(batch_size));
  if (n == 0) throw UsageError("no images given");
  if (sample_shape(images_host) != shapes_[0])
    throw UsageError("images of shape " + shape_str(sample_shape(images_host)) + " do not fit the model's input " +
                     shape_str(shapes_[0]));
  if (images_host.dtype() != DType::U8 && images_host.dtype() != DType::F32)
    throw UsageError("images must be uint8 or float32");
  if (data && (images_host.dtype() != DType::U8 || data->labels.dtype() != DType::U8))
    throw UsageError("evaluate: labelled images must be uint8, as loaded (float32 images go to predict)");
  const bool bytes = images_host.dtype() == DType::U8;
  const int64_t batch = std::min(batch_size, n);
  std::vector<int32_t> host_order(static_cast<size_t>(n));
  std::mt19937_64 unused_rng;
  Tensor images, labels, order, cursor;
  if (bytes) {
    images = device_ == Device::CPU ? images_host.view() : images_host.to(device_);
    labels = data ? (device_ == Device::CPU ? data->labels.view() : data->labels.to(device_))
                  : Tensor::zeros({n}, device_, DType::U8);
    order = Tensor({n}, device_, DType::I32);
    write_order(order, host_order, false, unused_rng);
    cursor = Tensor::zeros({1}, device_, DType::I32);
  }
  const bool output_is_logits = compiled_ && loss_path_ != LossPath::Probabilities;
  totals_.zero();
  auto start = std::chrono::steady_clock::now();
  for (int64_t begin = 0; begin < n; begin += batch) {
    int64_t rows = std::min(batch, n - begin);
    BatchViews& v = views_for(rows);
    if (bytes) {
      gather_batch(images, labels, order, cursor, v.acts[0], v.labels);
      advance_cursor(cursor, rows);
    } else {
      v.acts[0].copy_from(images_host.rows(begin, begin + rows));
    }
    forward(v);
    if (data) loss(v, false);
    if (probs_out) {
      if (output_is_logits) {
        softmax_forward(v.acts.back(), v.probs);
        probs_out->rows(begin, begin + rows).copy_from(v.probs);
      } else {
        probs_out->rows(begin, begin + rows).copy_from(v.acts.back());
      }
    }
  }
  Evaluation result;
  if (data) {
    std::vector<float> totals = totals_.to_vector();
    result.loss = totals[kLossSum] / static_cast<double>(n);
    result.accuracy = totals[kCorrectCount] / static_cast<double>(n);
  } else if (device_ == Device::CUDA) {
    CudaContext::get().synchronize();
  }
  result.seconds = seconds_since(start);
  return result;
}

Evaluation Sequential::evaluate(const LabeledImages& data, int64_t batch_size, int verbose, std::ostream& out) {
  require_compiled("evaluate");
  Evaluation result = run_inference(&data, nullptr, batch_size, nullptr);
  if (verbose > 0) {
    const int64_t batch = std::min(batch_size, data.size());  // no overflow for absurd batch sizes
    const int64_t steps = (data.size() + batch - 1) / batch;
    char buf[160];
    std::snprintf(buf, sizeof buf, "%lld/%lld - %.0fs - loss: %.4f - accuracy: %.4f - %.0fms/epoch - %s",
                  static_cast<long long>(steps), static_cast<long long>(steps), result.seconds, result.loss,
                  result.accuracy, result.seconds * 1e3,
                  ProgressBar::format_step_time(result.seconds / static_cast<double>(steps)).c_str());
    out << buf << "\n";
  }
  return result;
}

Tensor Sequential::predict(const Tensor& images, int64_t batch_size) {
  require_built("predict");
  if (images.rank() == 0) throw UsageError("predict: no images given");
  Tensor probs(with_batch(images.dim(0), shapes_.back()), Device::CPU);
  run_inference(nullptr, &images, batch_size, &probs);
  return probs;
}

}  // namespace loom
