// The tutorial models, built the same way by the apps, the tests and the benchmarks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/sequential.h"

namespace loom {

constexpr int64_t kFashionMnistClasses = 10;

// Flatten → Dense(h, relu) for each h in `hidden` → Dense(10) logits; Adam and cross-entropy from logits, as in the
// Keras basic-classification tutorial. hidden = {128} gives its 101,770 parameters.
std::unique_ptr<Sequential> make_mlp(const std::vector<int64_t>& hidden, Device device, uint64_t seed,
                                     const AdamHyper& adam = {});

}  // namespace loom
