// Loss and metrics of the model over a whole data set, in inference mode: evaluate, and fit's validation after
// every epoch. It reads the data with its own cursor into its own totals, so it never disturbs the training step's
// state, and it allocates both once, so validating between epochs leaves a captured training graph valid.
#pragma once

#include <cstdint>

#include "engine/runtime/tensor.h"
#include "engine/training/fit_options.h"
#include "engine/training/step_state.h"

namespace loom {

class DeviceDataset;
class Sequential;

class EvaluationLoop {
 public:
  explicit EvaluationLoop(Sequential& model);
  // Plans the batch sizes a pass over `samples` samples in batches of `batch` will see (call before training, so
  // no plan is made, and no workspace grown, between two training epochs).
  void prepare(int64_t samples, int64_t batch);
  // Means over the data set; waits for the device once, at the end.
  Evaluation run(DeviceDataset& data, int64_t batch);

 private:
  Sequential& model_;
  StepState state_;  // only its cursor is used
  Tensor totals_;
};

}  // namespace loom
