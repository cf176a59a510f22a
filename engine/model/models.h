// The tutorial models, built the same way by the apps, the tests and the benchmarks.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/data/labeled_images.h"
#include "engine/model/sequential.h"

namespace loom {

constexpr int64_t kFashionMnistClasses = 10;
// The models' per-sample input: 28x28 images, and the CNN's channels-last (28, 28, 1).
inline const Shape kMlpInputShape = {28, 28};
inline const Shape kCnnInputShape = {28, 28, 1};

// The models' layers, made but not built: what make_mlp and make_cnn build, and what training_memory
// (engine/model/training_memory.h) sizes before anything is allocated.
std::vector<std::unique_ptr<Layer>> mlp_layers(const std::vector<int64_t>& hidden);
std::vector<std::unique_ptr<Layer>> cnn_layers(int64_t filters, int64_t dense);

// Flatten → Dense(h, relu) for each h in `hidden` → Dense(10) logits; Adam and cross-entropy from logits, as in the
// Keras basic-classification tutorial. hidden = {128} gives its 101,770 parameters.
std::unique_ptr<Sequential> make_mlp(const std::vector<int64_t>& hidden, Device device, uint64_t seed,
                                     const AdamHyper& adam = {});

// Conv2D(filters, 3x3, relu) → MaxPool 2x2 → Conv2D(filters, 3x3, relu) → MaxPool 2x2 → Flatten →
// Dense(dense, relu) → Dense(10, softmax); Adam and cross-entropy on probabilities (the loss takes over the final
// softmax, fused). filters = 64, dense = 128 give the tutorial's 243,786 parameters. Input (28, 28, 1).
std::unique_ptr<Sequential> make_cnn(int64_t filters, int64_t dense, Device device, uint64_t seed,
                                     const AdamHyper& adam = {});

// train_cnn's "best" preset, a deeper CNN with batch normalization and dropout: three blocks of Conv2D(f, 3x3, same)
// → BatchNormalization → ReLU → MaxPool 2x2 with f = 32, 64, 128, then Flatten → Dense(256) → BatchNormalization →
// ReLU → Dropout(0.3) → Dense(10, softmax). Input (28, 28, 1); 1,152 features reach the Dense layer.
std::vector<std::unique_ptr<Layer>> best_cnn_layers();
std::unique_ptr<Sequential> make_best_cnn(Device device, uint64_t seed, const AdamHyper& adam = {});

// Views of 28x28 images as (28, 28, 1): the CNN's channels-last input. No copy; `data` must outlive the result.
LabeledImages with_channel_axis(const LabeledImages& data);

}  // namespace loom
