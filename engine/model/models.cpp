#include "engine/model/models.h"

#include "engine/runtime/errors.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"

namespace loom {

std::unique_ptr<Sequential> make_mlp(const std::vector<int64_t>& hidden, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  for (int64_t units : hidden) model->add<Dense>(units, Activation::ReLU);
  model->add<Dense>(kFashionMnistClasses);
  model->build({28, 28}, device, seed);
  model->compile(std::make_unique<Adam>(adam), SparseCategoricalCrossentropy{true});
  return model;
}

std::unique_ptr<Sequential> make_cnn(int64_t filters, int64_t dense, Device device, uint64_t seed,
                                     const AdamHyper& adam) {
  auto model = std::make_unique<Sequential>();
  model->add<Conv2D>(filters, 3, Padding::Valid, Activation::ReLU);
  model->add<MaxPool2D>(2);
  model->add<Conv2D>(filters, 3, Padding::Valid, Activation::ReLU);
  model->add<MaxPool2D>(2);
  model->add<Flatten>();
  model->add<Dense>(dense, Activation::ReLU);
  model->add<Dense>(kFashionMnistClasses, Activation::Softmax);
  model->build({28, 28, 1}, device, seed);
  model->compile(std::make_unique<Adam>(adam), SparseCategoricalCrossentropy{false});
  return model;
}

LabeledImages with_channel_axis(const LabeledImages& data) {
  Shape shape = data.images.shape();
  shape.push_back(1);
  return {data.images.reshaped(shape), data.labels.view()};
}

}  // namespace loom
