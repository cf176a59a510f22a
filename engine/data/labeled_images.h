// A labelled image data set held on the host as loaded: uint8 pixels and uint8 class labels.
#pragma once

#include <cstdint>

#include "engine/runtime/tensor.h"

namespace loom {

struct LabeledImages {
  Tensor images;  // uint8 [N, rows, cols] (or [N, rows, cols, channels])
  Tensor labels;  // uint8 [N]
  int64_t size() const { return labels.empty() ? 0 : labels.dim(0); }
};

}  // namespace loom
