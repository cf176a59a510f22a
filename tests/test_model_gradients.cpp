// Whole models' gradients against central differences on the CPU reference: MLPs, a small CNN, batch norm and dropout.
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/model/models.h"
#include "engine/training/batch_gradients.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// Checks d(batch loss)/d(parameter) against central differences for the given parameter indices.
void check_model_gradient(Sequential& model, const Batch& batch, const std::vector<size_t>& indices,
                          const std::string& what) {
  Trainer trainer(model);
  compute_gradients(trainer, batch.x, batch.labels);
  std::vector<float> analytic = model.gradients().to_vector();
  std::vector<float> params = model.parameters().to_vector();
  Tensor& live = model.parameters();
  auto loss = [&] {
    live.copy_from(Tensor::wrap(params.data(), live.shape(), Device::CPU));
    return batch_loss(trainer, batch.x, batch.labels);
  };
  // Float forward passes: a step of 1e-3 keeps rounding noise (~1e-7 / 1e-3) far below the 1% threshold, and is
  // small enough that no perturbation pushes a hidden unit across the ReLU kink (1e-2 did, in one of these models).
  EXPECT_TRUE(check_gradient_f32(params, loss, analytic, what, indices, 1e-3, 1e-2));
}

std::vector<size_t> all_indices(int64_t n) {
  std::vector<size_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(ModelGradientCheck, SmallMlpFromLogits) {
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(7, Activation::ReLU);
  model.add<Dense>(4);
  model.build({3, 3}, Device::CPU, 5);
  model.compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{true});
  check_model_gradient(model, random_batch(6, {3, 3}, 4, 1, Device::CPU), all_indices(model.parameters().numel()),
                       "MLP from logits");
}

TEST(ModelGradientCheck, SmallMlpWithSoftmaxOutputHandedToTheLoss) {
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(6);
  model.add<ReLU>();
  model.add<Dense>(4, Activation::Softmax);
  model.build({2, 4}, Device::CPU, 6);
  model.compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{false});
  check_model_gradient(model, random_batch(5, {2, 4}, 4, 2, Device::CPU), all_indices(model.parameters().numel()),
                       "MLP with Dense(softmax)");
}

TEST(ModelGradientCheck, SmallMlpWithSoftmaxLayer) {
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(6, Activation::ReLU);
  model.add<Dense>(3);
  model.add<Softmax>();
  model.build({5}, Device::CPU, 7);
  model.compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{false});
  check_model_gradient(model, random_batch(4, {5}, 3, 3, Device::CPU), all_indices(model.parameters().numel()),
                       "MLP with a Softmax layer");
}

// A handed-over Softmax layer shares its buffer with the ReLU output before it; the loss must not overwrite the
// mask that ReLU's backward pass reads.
TEST(ModelGradientCheck, SoftmaxLayerAfterAFusedRelu) {
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(6, Activation::ReLU);
  model.add<Dense>(3, Activation::ReLU);
  model.add<Softmax>();
  model.build({5}, Device::CPU, 17);
  model.compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{false});
  check_model_gradient(model, random_batch(6, {5}, 3, 18, Device::CPU), all_indices(model.parameters().numel()),
                       "Dense(relu) then Softmax layer");
}

TEST(ModelGradientCheck, TutorialMlpSampledParameters) {
  auto model = make_mlp({128}, Device::CPU, 8);
  // 300 parameters spread over both kernels and both biases.
  std::vector<size_t> indices;
  std::mt19937 rng(9);
  for (int i = 0; i < 300; ++i) indices.push_back(rng() % model->parameters().numel());
  for (size_t i = 100480; i < 100480 + 10; ++i) indices.push_back(i);  // start of the second kernel
  for (size_t i = 101760; i < 101770; ++i) indices.push_back(i);       // the output bias
  check_model_gradient(*model, random_batch(8, {28, 28}, 10, 4, Device::CPU), indices, "784-128-10 MLP");
}

TEST(ModelGradientCheck, SmallCnnThroughConvPoolFlattenDense) {
  auto model = small_cnn(Device::CPU, 21);
  const int64_t n = 3;
  std::mt19937 rng(22);
  Batch batch;
  batch.x = make_tensor(random_floats(n * 7 * 7 * 2, rng, 0.f, 1.f), {n, 7, 7, 2}, Device::CPU);
  batch.labels = make_labels(random_labels(n, 4, rng), Device::CPU);
  check_model_gradient(*model, batch, all_indices(model->parameters().numel()), "small CNN");
}

// A small model with both layers: gradients of every parameter against central differences (the moving statistics
// do not enter the training-mode loss: both sides are 0 there). No ReLU, whose kink a float step could cross.
TEST(ModelGradientCheck, BatchNormalizationAndDropoutInAModel) {
  Sequential model;
  model.add<Conv2D>(3, 3, Padding::Same);
  model.add<BatchNormalization>();
  model.add<Flatten>();
  model.add<Dense>(6);
  model.add<BatchNormalization>(0.5f);
  model.add<Dropout>(0.5);
  model.add<Dense>(4);
  model.build({4, 4, 2}, Device::CPU, 9);
  model.compile(std::make_unique<SGD>(), SparseCategoricalCrossentropy{true});
  check_model_gradient(model, random_batch(5, {4, 4, 2}, 4, 10, Device::CPU), all_indices(model.parameters().numel()),
                       "conv-BN-dense-BN-dropout model");
}

}  // namespace
}  // namespace loom::test
