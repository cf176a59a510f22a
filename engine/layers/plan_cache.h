// The cuDNN plans of one layer, one per batch size it meets, made in prepare() and looked up in each call.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

template <class Plan, class Geometry>
class PlanCache {
 public:
  // `sample` is the layer's per-sample geometry; the plan gets it with the batch size filled in, and `options`
  // after it (e.g. whether to plan a backward-data pass).
  template <class... Options>
  void prepare(Device device, int64_t rows, Geometry sample, const std::string& layer, Options... options) {
    if (device != Device::CUDA || plans_.count(rows)) return;
    sample.batch = rows;
    plans_[rows] = std::make_unique<Plan>(sample, layer, options...);
  }

  // The plan for x's batch size, or null on the CPU (which needs none).
  const Plan* find(const Tensor& x, const std::string& layer) const {
    if (x.device() != Device::CUDA) return nullptr;
    auto it = plans_.find(x.dim(0));
    if (it == plans_.end())
      throw Error("layer '" + layer + "': no cuDNN plan for batch size " + std::to_string(x.dim(0)) +
                  " (prepare() was not called for it)");
    return it->second.get();
  }

 private:
  std::map<int64_t, std::unique_ptr<Plan>> plans_;
};

}  // namespace loom
