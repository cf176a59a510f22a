#include "engine/model/training_memory.h"

#include <algorithm>

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

[[noreturn]] void refuse(double needed, const TrainingMemory& parts, const AvailableMemory& free_memory,
                         const std::string& hint) {
  throw UsageError("training needs at least " + memory_size_text(needed) + " (" + with_commas(parts.parameters) +
                   " parameters: " + memory_size_text(parts.parameter_bytes + parts.host_bytes) +
                   " for weights, gradients, the optimizer's moments and their copies; " +
                   memory_size_text(needed - parts.parameter_bytes - parts.host_bytes) +
                   " for activations and data), more than the " + memory_size_text(free_memory.bytes) + " free on " +
                   free_memory.where + "; " + hint);
}

}  // namespace

TrainingMemory training_memory(const std::vector<std::unique_ptr<Layer>>& layers, const Shape& input_shape,
                               int64_t batch, Device device, int optimizer_moments) {
  constexpr double kFloat = 4;
  const double rows = static_cast<double>(batch);
  TrainingMemory memory;
  Shape shape = input_shape;
  double buffered = elements(shape);  // the input and its gradient (Sequential's boundary 0)
  double scratch = 0;
  bool convolves = false;
  for (const auto& layer : layers) {
    shape = layer->build(shape);
    if (!layer->output_aliases_input()) buffered += elements(shape);
    for (const ParamSpec& spec : layer->param_specs()) memory.parameters += elements(spec.shape);
    scratch = std::max(scratch, static_cast<double>(layer->scratch_floats(device, batch)));
    convolves = convolves || layer->type() == "Conv2D";
  }
  const double outputs = elements(shape);
  memory.parameter_bytes = memory.parameters * kFloat * (2 + optimizer_moments);
  // Each boundary's activation and gradient, then the loss's probabilities and int32 labels, and the scratch.
  memory.activation_bytes = rows * kFloat * (2 * buffered + outputs + 1) + kFloat * scratch;
  if (device == Device::CUDA && convolves) memory.workspace_bytes = 256.0 * 1024 * 1024;
  memory.host_bytes = memory.parameters * kFloat;  // initialised on the host, then copied to the device
  return memory;
}

void require_memory(const TrainingMemory& needed, Device device, const AvailableMemory& device_free,
                    const AvailableMemory& host_free, const std::string& hint) {
  const double on_device = needed.device_total() + (device == Device::CPU ? needed.host_bytes : 0);
  if (device_free.bytes >= 0 && on_device > device_free.bytes) refuse(on_device, needed, device_free, hint);
  if (device == Device::CUDA && host_free.bytes >= 0 && needed.host_bytes > host_free.bytes) {
    TrainingMemory host_part;
    host_part.parameters = needed.parameters;
    host_part.host_bytes = needed.host_bytes;
    refuse(needed.host_bytes, host_part, host_free, hint);
  }
}

}  // namespace loom
