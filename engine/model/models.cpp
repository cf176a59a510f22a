#include "engine/model/models.h"

#include "engine/runtime/errors.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"

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

std::unique_ptr<Sequential> make_mlp(const std::vector<int64_t>& hidden, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  auto model = std::make_unique<Sequential>();
  for (auto& layer : mlp_layers(hidden)) model->add(std::move(layer));
  model->build(kMlpInputShape, device, seed);
  model->compile(std::make_unique<Adam>(adam), SparseCategoricalCrossentropy{true});
  return model;
}

std::unique_ptr<Sequential> make_cnn(int64_t filters, int64_t dense, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  auto model = std::make_unique<Sequential>();
  for (auto& layer : cnn_layers(filters, dense)) model->add(std::move(layer));
  model->build(kCnnInputShape, device, seed);
  model->compile(std::make_unique<Adam>(adam), SparseCategoricalCrossentropy{false});
  return model;
}

LabeledImages with_channel_axis(const LabeledImages& data) {
  Shape shape = data.images.shape();
  shape.push_back(1);
  return {data.images.reshaped(shape), data.labels.view()};
}

}  // namespace loom
