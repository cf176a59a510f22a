#include "engine/model/class_registry.h"

#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"

namespace loom {

const std::vector<RegisteredClass<Layer>>& layer_classes() {
  static const std::vector<RegisteredClass<Layer>> classes{
      {"Dense", Dense::from_config},
      {"Conv2D", Conv2D::from_config},
      {"MaxPooling2D", MaxPool2D::from_config},
      {"BatchNormalization", BatchNormalization::from_config},
      {"Dropout", Dropout::from_config},
      {"Flatten", Flatten::from_config},
      {"ReLU", ReLU::from_config},
      {"Softmax", Softmax::from_config},
  };
  return classes;
}

const std::vector<RegisteredClass<Optimizer>>& optimizer_classes() {
  static const std::vector<RegisteredClass<Optimizer>> classes{
      {"Adam", Adam::from_config},
      {"SGD", SGD::from_config},
  };
  return classes;
}

}  // namespace loom
