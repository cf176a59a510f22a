#include "engine/models.h"

#include "engine/errors.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"

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

}  // namespace loom
