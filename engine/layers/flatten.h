#pragma once

#include "engine/layers/layer.h"

namespace loom {

// Flattens each sample to one dimension. In loom's channels-last layout this is Keras's order, so the Dense
// weights that follow line up with Keras's; no data moves.
class Flatten : public Layer {
 public:
  std::string type() const override { return "Flatten"; }
  std::string default_name() const override { return "flatten"; }
  static std::unique_ptr<Layer> from_config(const ConfigReader& config);
  Shape build(const Shape& input) override { return {shape_numel(input)}; }
  bool output_aliases_input() const override { return true; }
  void forward(const Tensor&, Tensor&, bool) override {}
  void backward(const Tensor&, const Tensor&, Tensor&, Tensor*) override {}
};

}  // namespace loom
