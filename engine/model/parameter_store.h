// Every parameter of a model, by name, in one flat buffer (and its gradients in another of the same layout), so the
// optimizer is one launch per step and a checkpoint is the buffer plus the name → offset table below.
//
// Trainable parameters come first, in the order the layers declare them, then the non-trainable ones: the
// optimizer updates one contiguous prefix. Each parameter starts on a 256-byte boundary (cuBLAS and cuDNN pick
// their fastest kernels for aligned operands); the gaps hold zeros and are not counted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/runtime/tensor.h"

namespace loom {

struct Parameter {
  std::string name;  // "<layer>.<variable>", e.g. "dense_1.kernel"
  Shape shape;
  int64_t offset = 0;  // in floats, from the start of the flat buffers
  bool trainable = true;
  std::vector<int> keras_axes = {};  // ParamSpec::keras_axes: how Keras's files order the axes
};

class ParameterStore {
 public:
  // Lays out `specs[i]` for the layer named `layer_names[i]`, allocates the buffers on `device` and initialises
  // the values from `seed` (Glorot draws in declaration order, so the layout never changes the numbers).
  void allocate(const std::vector<std::string>& layer_names, const std::vector<std::vector<ParamSpec>>& specs,
                Device device, uint64_t seed);

  const std::vector<Parameter>& parameters() const { return parameters_; }
  const Parameter& find(const std::string& name) const;  // throws UsageError naming it when absent
  int64_t count() const { return count_; }
  int64_t trainable_count() const { return trainable_count_; }

  Tensor& values() { return values_; }
  Tensor& gradients() { return gradients_; }
  // The prefix of values() and gradients() that the optimizer updates.
  Tensor trainable_values() const { return values_.rows(0, trainable_end_); }
  Tensor trainable_gradients() const { return gradients_.rows(0, trainable_end_); }
  Tensor value(const Parameter& p) const {
    return values_.rows(p.offset, p.offset + shape_numel(p.shape)).reshaped(p.shape);
  }
  Tensor gradient(const Parameter& p) const {
    return gradients_.rows(p.offset, p.offset + shape_numel(p.shape)).reshaped(p.shape);
  }

 private:
  std::vector<Parameter> parameters_;
  Tensor values_, gradients_;
  int64_t count_ = 0, trainable_count_ = 0, trainable_end_ = 0;
};

}  // namespace loom
