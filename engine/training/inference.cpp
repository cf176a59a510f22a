// evaluate and predict, and the evaluation loop evaluate and fit's validation share.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/data/device_dataset.h"
#include "engine/model/sequential.h"
#include "engine/runtime/epoch_timer.h"
#include "engine/runtime/errors.h"
#include "engine/training/evaluation_loop.h"
#include "engine/training/inference.h"
#include "engine/training/progress_bar.h"
#include "engine/training/step_state.h"
#include "kernels/softmax.h"

namespace loom {

EvaluationLoop::EvaluationLoop(Sequential& model)
    : model_(model),
      state_(model.device(), 1.f),
      totals_(Tensor::zeros({static_cast<int64_t>(model.loss().metric_names().size())}, model.device())) {}

void EvaluationLoop::prepare(int64_t samples, int64_t batch) {
  model_.views_for(std::min(batch, samples));
  if (samples % batch && samples > batch) model_.views_for(samples % batch);
}

Evaluation EvaluationLoop::run(DeviceDataset& data, int64_t batch) {
  const int64_t n = data.size();  // batch >= 1: evaluate and fit have checked it
  batch = std::min(batch, n);
  auto start = std::chrono::steady_clock::now();
  data.begin_epoch(/*shuffle=*/false);
  state_.rewind();
  totals_.zero();
  for (int64_t begin = 0; begin < n; begin += batch) {
    BatchViews& v = model_.views_for(std::min(batch, n - begin));
    data.gather(state_.cursor(), v.acts[0], v.labels);
    model_.forward(v, /*training=*/false);
    model_.compute_loss(v, totals_, /*with_gradient=*/false);
    state_.advance(v.rows);
  }
  std::vector<float> totals = totals_.to_vector();  // the pass's one synchronization
  Evaluation result;
  result.loss = totals[0] / static_cast<double>(n);
  result.accuracy = totals[1] / static_cast<double>(n);
  result.seconds = seconds_since(start);
  return result;
}

Evaluation evaluate(Sequential& model, const LabeledImages& data, int64_t batch_size, int verbose, std::ostream& out) {
  model.require_compiled("evaluate");
  if (batch_size < 1) throw UsageError("evaluate: batch size must be at least 1, got " + std::to_string(batch_size));
  DeviceDataset dataset(data, model.input_shape(), model.device(), 0, "evaluate");
  EvaluationLoop loop(model);
  Evaluation result = loop.run(dataset, batch_size);
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

Tensor predict(Sequential& model, const Tensor& images, int64_t batch_size, bool probabilities) {
  model.require_built("predict");
  const int64_t n = images.rank() ? images.dim(0) : 0;
  if (n == 0) throw UsageError("predict: no images given");
  if (batch_size < 1) throw UsageError("predict: batch size must be at least 1, got " + std::to_string(batch_size));
  Shape sample(images.shape().begin() + 1, images.shape().end());
  if (sample != model.input_shape())
    throw UsageError("predict: images of shape " + shape_str(sample) + " do not fit the model's input " +
                     shape_str(model.input_shape()));
  if (images.dtype() != DType::U8 && images.dtype() != DType::F32)
    throw UsageError("predict: images must be uint8 or float32");
  Shape out_shape{n};
  out_shape.insert(out_shape.end(), model.output_shape().begin(), model.output_shape().end());
  Tensor probs(out_shape, Device::CPU);
  // The softmax to apply: every logit turned into probabilities, or only the one the loss took over from the layers.
  const bool logits =
      model.compiled() && (probabilities ? model.loss().output_is_logits() : model.loss().took_over_softmax());
  const int64_t batch = std::min(batch_size, n);

  // uint8 images are scaled on the device by the training gather (labels are not needed: zeros stand in).
  std::unique_ptr<LabeledImages> unlabeled;
  std::unique_ptr<DeviceDataset> dataset;
  std::unique_ptr<StepState> cursor;
  if (images.dtype() == DType::U8) {
    unlabeled =
        std::make_unique<LabeledImages>(LabeledImages{images.view(), Tensor::zeros({n}, Device::CPU, DType::U8)});
    dataset = std::make_unique<DeviceDataset>(*unlabeled, model.input_shape(), model.device(), 0, "predict");
    dataset->begin_epoch(/*shuffle=*/false);
    cursor = std::make_unique<StepState>(model.device(), 1.f);
  }
  for (int64_t begin = 0; begin < n; begin += batch) {
    BatchViews& v = model.views_for(std::min(batch, n - begin));
    if (dataset) {
      dataset->gather(cursor->cursor(), v.acts[0], v.labels);
      cursor->advance(v.rows);
    } else {
      v.acts[0].copy_from(images.rows(begin, begin + v.rows));
    }
    model.forward(v, /*training=*/false);
    if (logits) softmax_forward(v.acts.back(), v.probs);
    probs.rows(begin, begin + v.rows).copy_from(logits ? v.probs : v.acts.back());
  }
  return probs;
}

}  // namespace loom
