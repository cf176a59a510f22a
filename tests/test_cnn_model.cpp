// The CNN as a whole: Keras's summary, evaluation at odd batch sizes, the first convolution's plan without
// backward-data, and a short real training run. Its gradient check is in test_model_gradients.cpp, its CPU↔CUDA
// agreement (CUDA-graph training through cuDNN included) in test_model_parity.cpp.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "engine/data/fashion_mnist.h"
#include "engine/layers/conv2d.h"
#include "engine/model/models.h"
#include "engine/runtime/errors.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

TEST(Summary, CnnMatchesKeras) {
  auto model = make_cnn(64, 128, Device::CPU, 1);
  EXPECT_EQ(model->param_count(), 243786);
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #   \n"
      "=================================================================\n"
      " conv2d (Conv2D)             (None, 26, 26, 64)        640       \n"
      "                                                                 \n"
      " max_pooling2d (MaxPooling2D  (None, 13, 13, 64)       0         \n"
      " )                                                               \n"
      "                                                                 \n"
      " conv2d_1 (Conv2D)           (None, 11, 11, 64)        36928     \n"
      "                                                                 \n"
      " max_pooling2d_1 (MaxPooling  (None, 5, 5, 64)         0         \n"
      " 2D)                                                             \n"
      "                                                                 \n"
      " flatten (Flatten)           (None, 1600)              0         \n"
      "                                                                 \n"
      " dense (Dense)               (None, 128)               204928    \n"
      "                                                                 \n"
      " dense_1 (Dense)             (None, 10)                1290      \n"
      "                                                                 \n"
      "=================================================================\n"
      "Total params: 243,786\n"
      "Trainable params: 243,786\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  EXPECT_EQ(model->summary(), expected);
}

TEST(Conv2DLayer, RejectsWhatItCannotCompute) {
  EXPECT_THROW(Conv2D(0, 3), UsageError);
  EXPECT_THROW(Conv2D(8, 4, Padding::Same), UsageError);  // even kernel with "same"
  Sequential model;
  model.add<Conv2D>(4, 5);
  EXPECT_THROW(model.build({3, 3, 1}, Device::CPU), UsageError);  // kernel larger than the image
  Sequential flat;
  flat.add<Conv2D>(4, 3);
  EXPECT_THROW(flat.build({28, 28}, Device::CPU), UsageError);  // no channel axis
}

TEST(Model, CnnEvaluationAgreesAcrossBatchSizes) {
  auto model = small_cnn(Device::CPU, 23);
  const int64_t n = 11;
  std::mt19937 rng(24);
  LabeledImages data{Tensor({n, 7, 7, 2}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < data.images.numel(); ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 4);
  Evaluation whole = evaluate(*model, data, n);
  Evaluation batched = evaluate(*model, data, 4);  // 4 + 4 + 3
  Evaluation single = evaluate(*model, data, 1);
  EXPECT_NEAR(batched.loss, whole.loss, 1e-5);
  EXPECT_NEAR(single.loss, whole.loss, 1e-5);
  Tensor probs = predict(*model, data.images.rows(0, 1), 1);
  EXPECT_NEAR(std::accumulate(probs.f32(), probs.f32() + 4, 0.0), 1.0, 1e-5);
}

// A model's first convolution computes no input gradient, so its plan has no backward-data algorithm; asking it for
// one anyway is an error in words, and the filter and bias gradients are those of a full plan.
TEST(Conv2dPlan, WithoutBackwardDataForTheFirstLayer) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  Conv2dGeometry g{5, 28, 28, 1, 8, 3, 3, 0, 0};  // one input channel, as the tutorial's first layer
  cuda::Conv2dPlan first(g, "first_conv", /*backward_data=*/false), full(g, "full_conv");
  EXPECT_FALSE(first.has_backward_data());
  EXPECT_TRUE(full.has_backward_data());
  std::mt19937 rng(28);
  const int64_t out = 5 * 26 * 26 * 8;
  Tensor x = make_tensor(random_floats(5 * 28 * 28, rng), {5, 28, 28, 1}, dev);
  Tensor w = make_tensor(random_floats(8 * 9, rng), {8, 3, 3, 1}, dev),
         b = make_tensor(random_floats(8, rng), {8}, dev);
  std::vector<float> dy_values = random_floats(out, rng);
  Tensor y = poisoned({5, 26, 26, 8}, dev);
  conv2d_forward(x, w, b, y, 0, 0, Activation::ReLU, &first);
  Tensor dx = poisoned({5, 28, 28, 1}, dev), dw = poisoned({8, 3, 3, 1}, dev), db = poisoned({8}, dev);
  Tensor dy = make_tensor(dy_values, {5, 26, 26, 8}, dev);
  try {
    conv2d_backward(x, w, y, dy, 0, 0, Activation::ReLU, &dx, dw, db, &first);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("backward-data"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dy.to_vector(), dy_values) << "a refused call must leave its output gradient as it was";
  conv2d_backward(x, w, y, dy, 0, 0, Activation::ReLU, nullptr, dw, db, &first);
  Tensor dy2 = make_tensor(dy_values, {5, 26, 26, 8}, dev), dw2 = poisoned({8, 3, 3, 1}, dev), db2 = poisoned({8}, dev);
  conv2d_backward(x, w, y, dy2, 0, 0, Activation::ReLU, &dx, dw2, db2, &full);
  // Same deterministic algorithm choice for the filter pass in both plans.
  EXPECT_TRUE(all_close(dw.to_vector(), to_double(dw2.to_vector()), 1e-6, 1e-5, "kernel gradient"));
  EXPECT_TRUE(all_close(db.to_vector(), to_double(db2.to_vector()), 1e-6, 1e-5, "bias gradient"));
}

TEST(EndToEnd, CnnLearnsFashionMnistOnTheCpu) {
  std::string dir = fashion_mnist_dir_or_empty();
  if (dir.empty()) GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  FashionMnist data = load_fashion_mnist(dir);
  // A narrower CNN than the tutorial's keeps this under a minute on the CPU reference; the layers are the same.
  auto model = make_cnn(16, 64, Device::CPU, 2);
  FitOptions options;
  options.max_steps_per_epoch = 150;  // 4,800 training images
  options.verbose = 0;
  Trainer(*model).fit(with_channel_axis(data.train), options);
  LabeledImages test{data.test.images.rows(0, 1000), data.test.labels.rows(0, 1000)};
  Evaluation eval = evaluate(*model, with_channel_axis(test), 100);
  EXPECT_GT(eval.accuracy, 0.65) << "test loss " << eval.loss;
}

}  // namespace
}  // namespace loom::test
