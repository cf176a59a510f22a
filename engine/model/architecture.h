// A model's architecture as JSON, written into every saved model so that the file alone rebuilds it (Keras's
// model.to_json(), in loom's words):
//   {"name": "sequential", "input_shape": [28, 28],
//    "layers": [{"class_name": "Flatten", "name": "flatten", "config": {}},
//               {"class_name": "Dense", "name": "dense", "config": {"units": 128, "activation": "relu"}}, ...],
//    "loss": {"name": "sparse_categorical_crossentropy", "from_logits": true},
//    "optimizer": {"name": "Adam", "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07}}
// Layer and optimizer settings are their config() (Keras's get_config), read back by their from_config; the classes
// loom makes are those of engine/model/class_registry.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/model/sequential.h"
#include "engine/runtime/errors.h"

namespace loom {

// What is wrong with an architecture's JSON (not with the device it is built on): "architecture: <problem>".
class ArchitectureError : public Error {
 public:
  using Error::Error;
};

// The architecture of a compiled model, as JSON text (keys sorted, so equal models give equal text).
std::string architecture_json(Sequential& model);

// Builds and compiles the model `json` describes, on `device`. Anything malformed, unknown or beyond the limits
// below is an ArchitectureError (callers put the file's name in front); a device failure is the device's error.
std::unique_ptr<Sequential> model_from_architecture(const std::string& json, Device device);

// One layer, or the optimizer, from the JSON entry an architecture holds for it ({"class_name": "Dense", "config":
// {...}}, or {"name": "Adam", "learning_rate": ...}), made but not built: how a model is put together from settings
// alone (the Python package's layers and optimizers). Anything malformed or unknown is an ArchitectureError naming
// `where` ("layer 2") and the problem.
std::unique_ptr<Layer> layer_from_json(const std::string& entry, const std::string& where);
std::unique_ptr<Optimizer> optimizer_from_json(const std::string& entry);

// The same checks without building anything (the layers are made and sized, nothing is allocated).
void check_architecture(const std::string& json);

// Limits on what a file may ask loom to build, so a corrupt or hostile file fails with a message instead of an
// allocation that cannot succeed.
constexpr int64_t kMaxArchitectureLayers = 256;
constexpr int64_t kMaxArchitectureParameters = int64_t{1} << 28;  // 1 GiB of float32

// Empty when `saved` and `current` (both from architecture_json) describe the same model: input shape, layers and
// their settings, loss, and (when `with_optimizer`) the optimizer's settings. Otherwise the first difference in
// words, saying which is which, e.g. "layer 2 ('dense') has units 256 in the file, 128 here" or "the file has 4
// layers, this model 3".
std::string architecture_difference(const std::string& saved, const std::string& current, bool with_optimizer);

}  // namespace loom
