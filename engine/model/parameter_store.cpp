#include "engine/model/parameter_store.h"

#include <cmath>
#include <random>

#include "engine/runtime/errors.h"

namespace loom {
namespace {
constexpr int64_t kAlignFloats = 64;  // 256 bytes
int64_t aligned(int64_t offset) { return (offset + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }
}  // namespace

void ParameterStore::allocate(const std::vector<std::string>& layer_names,
                              const std::vector<std::vector<ParamSpec>>& specs, Device device, uint64_t seed) {
  parameters_.clear();
  count_ = trainable_count_ = 0;
  std::vector<const ParamSpec*> declared;  // parallel to parameters_
  for (size_t i = 0; i < specs.size(); ++i)
    for (const ParamSpec& spec : specs[i]) {
      parameters_.push_back({layer_names.at(i) + "." + spec.name, spec.shape, 0, spec.trainable, spec.keras_axes});
      declared.push_back(&spec);
    }

  int64_t end = 0;
  for (bool trainable : {true, false}) {
    for (Parameter& p : parameters_) {
      if (p.trainable != trainable) continue;
      p.offset = aligned(end);
      end = p.offset + shape_numel(p.shape);
      count_ += shape_numel(p.shape);
      if (trainable) trainable_count_ += shape_numel(p.shape);
    }
    if (trainable) trainable_end_ = end;
  }

  // Initialised on the host, then moved to the device in one copy.
  std::vector<float> host(static_cast<size_t>(end), 0.f);
  std::mt19937 rng(static_cast<uint32_t>(seed ^ (seed >> 32)));  // every bit of a 64-bit seed counts
  for (size_t k = 0; k < parameters_.size(); ++k) {
    const ParamSpec& spec = *declared[k];
    float* out = host.data() + parameters_[k].offset;
    const int64_t n = shape_numel(spec.shape);
    if (spec.init == Init::Ones) {
      for (int64_t j = 0; j < n; ++j) out[j] = 1.f;
    } else if (spec.init == Init::GlorotUniform) {
      float limit = std::sqrt(6.f / static_cast<float>(spec.fan_in + spec.fan_out));
      std::uniform_real_distribution<float> uniform(-limit, limit);
      for (int64_t j = 0; j < n; ++j) out[j] = uniform(rng);
    }
  }
  values_ = Tensor::from_vector(host, {end}, device);
  gradients_ = Tensor::zeros({end}, device);
}

const Parameter& ParameterStore::find(const std::string& name) const {
  for (const Parameter& p : parameters_)
    if (p.name == name) return p;
  throw UsageError("the model has no parameter named '" + name + "'");
}

}  // namespace loom
