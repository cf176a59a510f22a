#include "engine/model/training_memory.h"

#include "engine/runtime/errors.h"

namespace loom {
namespace {

double elements(const Shape& shape) {
  double n = 1;
  for (int64_t d : shape) n *= static_cast<double>(d);
  return n;
}

// 4345233418 -> "4,345,233,418"
std::string with_commas(double count) {
  std::string digits = std::to_string(static_cast<unsigned long long>(count));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(static_cast<size_t>(i), ",");
  return digits;
}

}  // namespace

TrainingMemory training_memory(const std::vector<std::unique_ptr<Layer>>& layers, const Shape& input_shape,
                               int64_t batch, int optimizer_moments) {
  constexpr double kFloat = 4;
  const double rows = static_cast<double>(batch);
  TrainingMemory memory;
  Shape shape = input_shape;
  double buffered = elements(shape);  // the input and its gradient (Sequential's boundary 0)
  for (const auto& layer : layers) {
    shape = layer->build(shape);
    if (!layer->output_aliases_input()) buffered += elements(shape);
    for (const ParamSpec& spec : layer->param_specs()) memory.parameters += elements(spec.shape);
  }
  const double outputs = elements(shape);
  memory.parameter_bytes = memory.parameters * kFloat * (2 + optimizer_moments);
  // Each boundary's activation and gradient, then the loss's probabilities and int32 labels.
  memory.activation_bytes = rows * kFloat * (2 * buffered + outputs + 1);
  return memory;
}

void require_memory(const TrainingMemory& needed, const AvailableMemory& available, const std::string& hint) {
  if (needed.total() <= available.bytes) return;
  throw UsageError("training needs at least " + memory_size_text(needed.total()) + " (" +
                   with_commas(needed.parameters) + " parameters: " + memory_size_text(needed.parameter_bytes) +
                   " for weights, gradients and the "
                   "optimizer's moments; " +
                   memory_size_text(needed.activation_bytes + needed.data_bytes) +
                   " for activations and data), more than the " + memory_size_text(available.bytes) + " free on " +
                   available.where + "; " + hint);
}

}  // namespace loom
