#include "engine/model/models.h"

#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"
#include "engine/runtime/errors.h"

namespace loom {

std::vector<std::unique_ptr<Layer>> mlp_layers(const std::vector<int64_t>& hidden) {
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Flatten>());
  for (int64_t units : hidden) layers.push_back(std::make_unique<Dense>(units, Activation::ReLU));
  layers.push_back(std::make_unique<Dense>(kFashionMnistClasses));
  return layers;
}

std::vector<std::unique_ptr<Layer>> cnn_layers(int64_t filters, int64_t dense) {
  std::vector<std::unique_ptr<Layer>> layers;
  layers.push_back(std::make_unique<Conv2D>(filters, 3, Padding::Valid, Activation::ReLU));
  layers.push_back(std::make_unique<MaxPool2D>(2));
  layers.push_back(std::make_unique<Conv2D>(filters, 3, Padding::Valid, Activation::ReLU));
  layers.push_back(std::make_unique<MaxPool2D>(2));
  layers.push_back(std::make_unique<Flatten>());
  layers.push_back(std::make_unique<Dense>(dense, Activation::ReLU));
  layers.push_back(std::make_unique<Dense>(kFashionMnistClasses, Activation::Softmax));
  return layers;
}

std::vector<std::unique_ptr<Layer>> best_cnn_layers() {
  std::vector<std::unique_ptr<Layer>> layers;
  for (int64_t filters : {32, 64, 128}) {
    layers.push_back(std::make_unique<Conv2D>(filters, 3, Padding::Same));
    layers.push_back(std::make_unique<BatchNormalization>());
    layers.push_back(std::make_unique<ReLU>());
    layers.push_back(std::make_unique<MaxPool2D>(2));
  }
  layers.push_back(std::make_unique<Flatten>());
  layers.push_back(std::make_unique<Dense>(256));
  layers.push_back(std::make_unique<BatchNormalization>());
  layers.push_back(std::make_unique<ReLU>());
  layers.push_back(std::make_unique<Dropout>(0.3));
  layers.push_back(std::make_unique<Dense>(kFashionMnistClasses, Activation::Softmax));
  return layers;
}

namespace {

std::unique_ptr<Sequential> compiled(std::vector<std::unique_ptr<Layer>> layers, const Shape& input, Device device,
                                     uint64_t seed, const AdamHyper& adam, bool from_logits) {
  auto model = std::make_unique<Sequential>();
  for (auto& layer : layers) model->add(std::move(layer));
  model->build(input, device, seed);
  model->compile(std::make_unique<Adam>(adam), SparseCategoricalCrossentropy{from_logits});
  return model;
}

}  // namespace

std::unique_ptr<Sequential> make_mlp(const std::vector<int64_t>& hidden, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  return compiled(mlp_layers(hidden), kMlpInputShape, device, seed, adam, /*from_logits=*/true);
}

std::unique_ptr<Sequential> make_cnn(int64_t filters, int64_t dense, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  return compiled(cnn_layers(filters, dense), kCnnInputShape, device, seed, adam, /*from_logits=*/false);
}

std::unique_ptr<Sequential> make_best_cnn(Device device, uint64_t seed, const AdamHyper& adam) {
  return compiled(best_cnn_layers(), kCnnInputShape, device, seed, adam, /*from_logits=*/false);
}

LabeledImages with_channel_axis(const LabeledImages& data) {
  Shape shape = data.images.shape();
  shape.push_back(1);
  return {data.images.reshaped(shape), data.labels.view()};
}

}  // namespace loom
