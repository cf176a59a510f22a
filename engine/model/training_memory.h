// What training a model takes in memory, worked out from its layers alone, before anything is allocated: so that a
// model or a batch too large for the device (or the host) is refused with the figures up front, not by
// std::bad_alloc, the OOM killer or a CUDA error after the summary is printed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/runtime/available_memory.h"

namespace loom {

// Bytes as doubles: a hostile width times a hostile batch must not overflow before it is compared.
struct TrainingMemory {
  double parameters = 0;  // how many
  // On the training device:
  double parameter_bytes = 0;   // float32 values and gradients, and the optimizer's moments (two for Adam)
  double activation_bytes = 0;  // per batch: every layer's input and output and their gradients, the loss's scratch,
                                // and the largest temporary a layer takes (the CPU convolution's im2col buffers)
  double workspace_bytes = 0;   // the GPU libraries' (cuDNN's convolution workspace, at most 256 MiB)
  double data_bytes = 0;        // what the caller adds: the data set, when it is copied to the device
  // On the host, beside: copies of the parameters that come and go (initialisation, a checkpoint or the saved
  // weights being written) and those that stay (early stopping's best weights); what the caller adds.
  double host_bytes = 0;
  double device_total() const { return parameter_bytes + activation_bytes + workspace_bytes + data_bytes; }
};

// Sizes `layers` for per-sample `input_shape` (Layer::build, which allocates nothing) and adds up the buffers a
// Sequential of them allocates on `device` to train on batches of `batch` rows with an optimizer keeping
// `optimizer_moments` float32 values per parameter; host_bytes starts with the initialisation's copy. An error in the
// layers' own checks (a kernel larger than its input) is theirs, as when the model is built.
TrainingMemory training_memory(const std::vector<std::unique_ptr<Layer>>& layers, const Shape& input_shape,
                               int64_t batch, Device device, int optimizer_moments = 2);

// Throws loom::UsageError when what `needed` puts on `device` exceeds `device_free`, or (for a GPU run) its host
// part exceeds `host_free` (on the CPU, both parts are the host's): "training needs at least 64.9 GiB (4,345,233,418
// parameters: 64.7 GiB for weights, gradients and Adam's moments; 0.2 GiB for activations and data), more than the
// 22.8 GiB free on the host (MemAvailable); <hint>". A figure that could not be read (negative) refuses nothing.
void require_memory(const TrainingMemory& needed, Device device, const AvailableMemory& device_free,
                    const AvailableMemory& host_free, const std::string& hint);

}  // namespace loom
