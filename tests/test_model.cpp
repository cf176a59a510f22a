// The Sequential model: Keras's summary, whole-model gradient checks on the CPU reference, fit/evaluate/predict
// behaviour (partial batches, probabilities), misuse errors, and CPU↔CUDA agreement of whole training steps.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "engine/errors.h"
#include "engine/layers/activations.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/models.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

TEST(Summary, MlpMatchesKeras) {
  auto model = make_mlp({128}, Device::CPU, 1);
  EXPECT_EQ(model->param_count(), 101770);
  const std::string expected =
      "Model: \"sequential\"\n"
      "_________________________________________________________________\n"
      " Layer (type)                Output Shape              Param #   \n"
      "=================================================================\n"
      " flatten (Flatten)           (None, 784)               0         \n"
      "                                                                 \n"
      " dense (Dense)               (None, 128)               100480    \n"
      "                                                                 \n"
      " dense_1 (Dense)             (None, 10)                1290      \n"
      "                                                                 \n"
      "=================================================================\n"
      "Total params: 101,770\n"
      "Trainable params: 101,770\n"
      "Non-trainable params: 0\n"
      "_________________________________________________________________\n";
  EXPECT_EQ(model->summary(), expected);
}

TEST(Summary, DeeperMlpCountsEveryLayer) {
  auto model = make_mlp({256, 128}, Device::CPU, 1);
  EXPECT_EQ(model->param_count(), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  EXPECT_NE(model->summary().find("dense_2 (Dense)"), std::string::npos);
}

TEST(Init, GlorotUniformKernelsAndZeroBiases) {
  auto model = make_mlp({128}, Device::CPU, 3);
  std::vector<float> p = model->parameters().to_vector();
  const float limit = std::sqrt(6.f / (784 + 128));
  double sum_sq = 0;
  for (int i = 0; i < 784 * 128; ++i) {
    ASSERT_LE(std::fabs(p[i]), limit);
    sum_sq += p[i] * p[i];
  }
  // Uniform(-l, l) has variance l²/3.
  EXPECT_NEAR(sum_sq / (784 * 128), limit * limit / 3, 0.02 * limit * limit);
  for (int i = 784 * 128; i < 784 * 128 + 128; ++i) EXPECT_EQ(p[i], 0.f);
  // Same seed, same parameters; another seed, others.
  EXPECT_EQ(make_mlp({128}, Device::CPU, 3)->parameters().to_vector(), p);
  EXPECT_NE(make_mlp({128}, Device::CPU, 4)->parameters().to_vector(), p);
}

TEST(Init, EveryParameterStartsOn256Bytes) {
  Sequential model;
  model.add<Flatten>();
  auto& hidden = model.add<Dense>(7, Activation::ReLU);
  auto& out = model.add<Dense>(3);
  model.build({5}, Device::CPU, 1);
  EXPECT_EQ(model.param_count(), 5 * 7 + 7 + 7 * 3 + 3);  // padding is not counted
  auto offset = [&](const Tensor& t) {
    return static_cast<const char*>(t.raw()) - static_cast<const char*>(model.parameters().raw());
  };
  for (const Tensor* t : {&hidden.kernel(), &hidden.bias(), &out.kernel(), &out.bias()})
    EXPECT_EQ(offset(*t) % 256, 0) << "parameter at byte " << offset(*t);
  EXPECT_GT(offset(out.bias()), offset(out.kernel()));
}

// Batch of random images in [0, 1] and labels for a model with `input` per-sample shape.
struct Batch {
  Tensor x, labels;
};
Batch random_batch(int64_t n, const Shape& input, int classes, unsigned seed, Device device) {
  std::mt19937 rng(seed);
  Shape s{n};
  s.insert(s.end(), input.begin(), input.end());
  return {make_tensor(random_floats(static_cast<size_t>(shape_numel(s)), rng, 0.f, 1.f), s, device),
          make_labels(random_labels(n, classes, rng), device)};
}

// Checks d(batch loss)/d(parameter) against central differences for the given parameter indices.
void check_model_gradient(Sequential& model, const Batch& batch, const std::vector<size_t>& indices,
                          const std::string& what) {
  model.compute_gradients(batch.x, batch.labels);
  std::vector<float> analytic = model.gradients().to_vector();
  std::vector<float> params = model.parameters().to_vector();
  Tensor& live = model.parameters();
  auto loss = [&] {
    live.copy_from(Tensor::wrap(params.data(), live.shape(), Device::CPU));
    return model.batch_loss(batch.x, batch.labels);
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
  for (size_t i = 101760; i < 101770; ++i) indices.push_back(i);        // the output bias
  check_model_gradient(*model, random_batch(8, {28, 28}, 10, 4, Device::CPU), indices, "784-128-10 MLP");
}

TEST(Model, LossFallsWhenFittingASmallProblem) {
  // Two well-separated classes of 4x4 images.
  const int64_t n = 96;
  std::mt19937 rng(10);
  LabeledImages data{Tensor({n, 4, 4}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n; ++i) {
    uint8_t label = static_cast<uint8_t>(i % 2);
    data.labels.data<uint8_t>()[i] = label;
    for (int j = 0; j < 16; ++j)
      data.images.data<uint8_t>()[i * 16 + j] = static_cast<uint8_t>((j < 8) == (label == 0) ? 200 + rng() % 50 : rng() % 50);
  }
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(8, Activation::ReLU);
  model.add<Dense>(2, Activation::Softmax);
  model.build({4, 4}, Device::CPU, 11);
  model.compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{false});
  FitOptions options;
  options.epochs = 8;
  options.batch_size = 10;  // 96 = 9·10 + 6: every epoch ends on a partial batch
  options.verbose = 0;
  auto history = model.fit(data, options);
  ASSERT_EQ(history.size(), 8u);
  EXPECT_LT(history.back().loss, history.front().loss * 0.5);
  EXPECT_GT(history.back().accuracy, 0.95);
  Evaluation eval = model.evaluate(data, 32);
  EXPECT_GT(eval.accuracy, 0.95);
}

TEST(Model, EvaluateIsTheSameWhateverTheBatchSize) {
  auto model = make_mlp({16}, Device::CPU, 12);
  const int64_t n = 37;
  std::mt19937 rng(13);
  LabeledImages data{Tensor({n, 28, 28}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n * 784; ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 10);
  Evaluation whole = model->evaluate(data, n);
  Evaluation batched = model->evaluate(data, 8);  // 4 full batches and one of 5
  Evaluation single = model->evaluate(data, 1);
  EXPECT_NEAR(batched.loss, whole.loss, 1e-5);
  EXPECT_NEAR(single.loss, whole.loss, 1e-5);
  EXPECT_DOUBLE_EQ(batched.accuracy, whole.accuracy);

  Tensor probs = model->predict(data.images, 8);
  ASSERT_EQ(probs.shape(), (Shape{n, 10}));
  double correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs.f32() + i * 10;
    EXPECT_NEAR(std::accumulate(p, p + 10, 0.0), 1.0, 1e-5) << "row " << i;
    int64_t best = std::max_element(p, p + 10) - p;
    correct += best == data.labels.data<uint8_t>()[i];
  }
  EXPECT_DOUBLE_EQ(correct / n, whole.accuracy);
}

TEST(Model, FitIsReproducibleFromItsSeed) {
  const int64_t n = 64;
  std::mt19937 rng(19);
  LabeledImages data{Tensor({n, 28, 28}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n * 784; ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 10);
  auto train = [&](uint64_t init_seed, uint64_t shuffle_seed, bool shuffle) {
    auto model = make_mlp({16}, Device::CPU, init_seed);
    FitOptions options;
    options.epochs = 2;
    options.batch_size = 8;
    options.verbose = 0;
    options.seed = shuffle_seed;
    options.shuffle = shuffle;
    model->fit(data, options);
    return model->parameters().to_vector();
  };
  std::vector<float> reference = train(1, 2, true);
  EXPECT_EQ(train(1, 2, true), reference) << "same seeds, same result";
  EXPECT_NE(train(1, 3, true), reference) << "another shuffle seed must change the batch order";
  EXPECT_NE(train(1, 2, false), reference) << "no shuffle must change the batch order";
  EXPECT_NE(train(1ull << 40, 2, true), train(0, 2, true)) << "the seed's high bits must count";
}

TEST(Model, FloatImagesArePredictedNotEvaluated) {
  auto model = make_mlp({16}, Device::CPU, 20);
  std::mt19937 rng(21);
  const int64_t n = 5;
  std::vector<uint8_t> bytes(n * 784);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  Tensor as_bytes = Tensor::wrap(bytes.data(), {n, 28, 28}, Device::CPU, DType::U8);
  std::vector<float> scaled(bytes.begin(), bytes.end());
  for (float& f : scaled) f /= 255.f;
  Tensor as_floats = make_tensor(scaled, {n, 28, 28}, Device::CPU);
  // The same images as uint8 (scaled on the way in) and as float32 give the same probabilities.
  EXPECT_TRUE(all_close(model->predict(as_floats, 2).to_vector(), to_double(model->predict(as_bytes, 3).to_vector()),
                        1e-6, 1e-5, "float32 vs uint8 predictions"));
  LabeledImages floats{as_floats.view(), Tensor::zeros({n}, Device::CPU, DType::U8)};
  EXPECT_THROW(model->evaluate(floats), UsageError);
}

TEST(Model, MisuseIsReportedInWords) {
  Sequential model;
  EXPECT_THROW(model.build({28, 28}, Device::CPU), UsageError);  // no layers
  model.add<Flatten>();
  model.add<Dense>(10);
  EXPECT_THROW(model.summary(), UsageError);  // not built
  model.build({28, 28}, Device::CPU);
  LabeledImages data{Tensor::zeros({4, 28, 28}, Device::CPU, DType::U8), Tensor::zeros({4}, Device::CPU, DType::U8)};
  EXPECT_THROW(model.fit(data, {}), UsageError);  // not compiled
  model.compile(std::make_unique<Adam>(), {true});
  FitOptions zero_epochs;
  zero_epochs.epochs = 0;
  EXPECT_THROW(model.fit(data, zero_epochs), UsageError);
  LabeledImages wrong{Tensor::zeros({4, 14, 14}, Device::CPU, DType::U8), Tensor::zeros({4}, Device::CPU, DType::U8)};
  try {
    model.fit(wrong, {});
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(14, 14)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Dense(0), UsageError);
  AdamHyper bad;
  bad.learning_rate = -1.f;
  EXPECT_THROW(Adam{bad}, UsageError);
}

// Whole training steps on the GPU against the same steps on the CPU reference.
TEST(ModelParity, CudaTrainingStepsMatchTheCpuReference) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  // SGD, not Adam: Adam's first steps move each parameter by ±lr whatever the gradient's size, so rounding-level
  // differences in near-zero gradients would show as lr-sized differences in the parameters.
  auto cpu = make_mlp({128}, Device::CPU, 14);
  auto gpu = make_mlp({128}, Device::CUDA, 14);
  cpu->compile(std::make_unique<SGD>(0.1f), {true});
  gpu->compile(std::make_unique<SGD>(0.1f), {true});
  for (unsigned step = 0; step < 3; ++step) {
    for (int64_t n : {32, 16}) {  // a full and a partial batch
      Batch b = random_batch(n, {28, 28}, 10, 100 + step, Device::CPU);
      cpu->train_step(b.x, b.labels);
      gpu->train_step(b.x.to(Device::CUDA), b.labels.to(Device::CUDA));
    }
  }
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "parameters after 6 SGD steps"));
  EXPECT_TRUE(all_close(gpu->gradients().to_vector(), to_double(cpu->gradients().to_vector()), 1e-6, 1e-3,
                        "last gradients"));
}

// The graph path replays one captured step for every full batch; it must train exactly as ordinary launches do,
// including the partial batch that ends each epoch (100 = 3·32 + 4).
TEST(ModelParity, CudaGraphTrainingMatchesOrdinaryLaunches) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const int64_t n = 100;
  std::mt19937 rng(15);
  LabeledImages data{Tensor({n, 28, 28}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n * 784; ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 10);
  auto eager = make_mlp({64}, Device::CUDA, 16);
  auto graphed = make_mlp({64}, Device::CUDA, 16);
  FitOptions options;
  options.epochs = 3;
  options.verbose = 0;
  options.cuda_graph = false;
  auto eager_history = eager->fit(data, options);
  options.cuda_graph = true;
  auto graph_history = graphed->fit(data, options);
  EXPECT_TRUE(all_close(graphed->parameters().to_vector(), to_double(eager->parameters().to_vector()), 1e-6, 1e-5,
                        "parameters after 3 epochs with and without graphs"));
  for (size_t e = 0; e < eager_history.size(); ++e) {
    EXPECT_NEAR(graph_history[e].loss, eager_history[e].loss, 1e-5) << "epoch " << e;
    EXPECT_DOUBLE_EQ(graph_history[e].accuracy, eager_history[e].accuracy) << "epoch " << e;
  }
}

}  // namespace
}  // namespace loom::test
