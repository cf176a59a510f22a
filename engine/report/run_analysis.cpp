#include "engine/report/run_analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "engine/runtime/errors.h"

namespace loom::report {
namespace {

// Checks the shapes and labels shared by the analyses; returns the number of classes.
int64_t check_predictions(const Tensor& probabilities, const Tensor& labels) {
  if (probabilities.device() != Device::CPU || labels.device() != Device::CPU)
    throw Error("the report's analyses take tensors on the CPU");
  if (probabilities.dtype() != DType::F32 || probabilities.shape().size() != 2 || probabilities.dim(1) < 1)
    throw Error("the report's analyses take probabilities as float [n, classes], got " +
                shape_str(probabilities.shape()));
  if (labels.dtype() != DType::U8 || labels.shape().size() != 1 || labels.dim(0) != probabilities.dim(0))
    throw Error("the report's analyses take uint8 labels [" + std::to_string(probabilities.dim(0)) + "], got " +
                shape_str(labels.shape()));
  const int64_t classes = probabilities.dim(1);
  const uint8_t* label = labels.data<uint8_t>();
  for (int64_t i = 0; i < labels.dim(0); ++i)
    if (label[i] >= classes)
      throw Error("label " + std::to_string(label[i]) + " of sample " + std::to_string(i) + " is not one of the " +
                  std::to_string(classes) + " classes");
  return classes;
}

std::string fixed(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

int predicted_class(const float* probabilities, int64_t classes) {
  int64_t best = 0;
  for (int64_t k = 0; k < classes; ++k) {
    if (!std::isfinite(probabilities[k])) return -1;
    if (probabilities[k] > probabilities[best]) best = k;
  }
  return static_cast<int>(best);
}

int64_t ConfusionMatrix::total_unpredicted() const {
  int64_t total = 0;
  for (int64_t count : unpredicted) total += count;
  return total;
}

int64_t ConfusionMatrix::samples_of(int64_t truth) const {
  int64_t total = unpredicted[static_cast<size_t>(truth)];
  for (int64_t k = 0; k < classes; ++k) total += at(truth, k);
  return total;
}

double ConfusionMatrix::class_accuracy(int64_t truth) const {
  const int64_t total = samples_of(truth);
  return total == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(at(truth, truth)) / total;
}

double ConfusionMatrix::accuracy() const {
  int64_t right = 0, total = 0;
  for (int64_t k = 0; k < classes; ++k) {
    right += at(k, k);
    total += samples_of(k);
  }
  return total == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(right) / total;
}

ConfusionMatrix confusion_matrix(const Tensor& probabilities, const Tensor& labels) {
  ConfusionMatrix matrix;
  matrix.classes = check_predictions(probabilities, labels);
  matrix.counts.assign(static_cast<size_t>(matrix.classes * matrix.classes), 0);
  matrix.unpredicted.assign(static_cast<size_t>(matrix.classes), 0);
  const float* p = probabilities.f32();
  const uint8_t* label = labels.data<uint8_t>();
  for (int64_t i = 0; i < labels.dim(0); ++i) {
    const int predicted = predicted_class(p + i * matrix.classes, matrix.classes);
    if (predicted < 0)
      ++matrix.unpredicted[label[i]];
    else
      ++matrix.counts[static_cast<size_t>(label[i] * matrix.classes + predicted)];
  }
  return matrix;
}

std::vector<Mistake> most_confident_mistakes(const Tensor& probabilities, const Tensor& labels, size_t count) {
  const int64_t classes = check_predictions(probabilities, labels);
  const float* p = probabilities.f32();
  const uint8_t* label = labels.data<uint8_t>();
  std::vector<Mistake> mistakes;
  for (int64_t i = 0; i < labels.dim(0); ++i) {
    const int predicted = predicted_class(p + i * classes, classes);
    if (predicted >= 0 && predicted != label[i])
      mistakes.push_back({i, predicted, label[i], p[i * classes + predicted]});
  }
  const auto more_confident = [](const Mistake& a, const Mistake& b) {
    return a.confidence != b.confidence ? a.confidence > b.confidence : a.index < b.index;
  };
  const size_t kept = std::min(count, mistakes.size());
  std::partial_sort(mistakes.begin(), mistakes.begin() + static_cast<std::ptrdiff_t>(kept), mistakes.end(),
                    more_confident);
  mistakes.resize(kept);
  return mistakes;
}

std::string overfitting_in_words(double train_accuracy, double test_accuracy) {
  const double points = 100 * (train_accuracy - test_accuracy);
  const std::string figures = " (training " + fixed(train_accuracy, 4) + ", test " + fixed(test_accuracy, 4) + ")";
  if (!std::isfinite(points)) return "The gap between training and test accuracy is unknown" + figures + ".";
  const std::string gap =
      fixed(std::fabs(points), 1) + (std::fabs(points) >= 0.95 && std::fabs(points) < 1.05 ? " point" : " points");
  if (points > 3)
    return "Test accuracy is " + gap + " below training accuracy" + figures +
           ": the model overfits, doing clearly better on the images it learned from than on new ones.";
  if (points > 1)
    return "Test accuracy is " + gap + " below training accuracy" + figures +
           ": a little overfitting, as the tutorial finds; the model does slightly better on the images it learned "
           "from.";
  if (points >= -1) return "Training and test accuracy are " + gap + " apart" + figures + ": no sign of overfitting.";
  return "Test accuracy is " + gap + " above training accuracy" + figures +
         ": no overfitting. (Training accuracy is averaged over the last epoch while the weights still changed, so it "
         "can lag behind the final model.)";
}

}  // namespace loom::report
