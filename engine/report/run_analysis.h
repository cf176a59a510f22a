// What the report says about a trained model's predictions on the test set: the confusion matrix with per-class
// accuracy, the most confident mistakes, and the gap between training and test accuracy in words.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/tensor.h"

namespace loom::report {

// The index of the largest probability (the first of equals), as argmax and predict do; -1 when a probability is
// not finite (a diverged model predicts nothing, rather than class 0).
int predicted_class(const float* probabilities, int64_t classes);

struct ConfusionMatrix {
  int64_t classes = 0;
  std::vector<int64_t> counts;       // [true class][predicted class], row-major
  std::vector<int64_t> unpredicted;  // [true class]: images with no prediction (non-finite probabilities)

  int64_t at(int64_t truth, int64_t predicted) const {
    return counts[static_cast<size_t>(truth * classes + predicted)];
  }
  int64_t samples_of(int64_t truth) const;     // the row's total, its images with no prediction included
  double class_accuracy(int64_t truth) const;  // the row's diagonal over its total; NaN for a class with no sample
  double accuracy() const;                     // the diagonal over all samples
  int64_t total_unpredicted() const;
};

// `probabilities`: float [n, classes] on the CPU; `labels`: uint8 [n]. A loom::Error when the shapes disagree or a
// label is not below `classes`.
ConfusionMatrix confusion_matrix(const Tensor& probabilities, const Tensor& labels);

struct Mistake {
  int64_t index = 0;  // in the test set
  int predicted = 0;
  int truth = 0;
  float confidence = 0;  // the predicted class's probability
};

// The up to `count` wrong predictions made with the highest confidence, most confident first (ties: lower index
// first); images with no prediction are not among them. Same inputs and errors as confusion_matrix.
std::vector<Mistake> most_confident_mistakes(const Tensor& probabilities, const Tensor& labels, size_t count);

// One or two sentences on the gap between the last epoch's training accuracy and the test accuracy, as the tutorial
// explains overfitting: how many points apart, which is higher, and what that says.
std::string overfitting_in_words(double train_accuracy, double test_accuracy);

}  // namespace loom::report
