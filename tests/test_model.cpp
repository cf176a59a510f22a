// The Sequential model: Keras's summary, initialization, fit/evaluate/predict behaviour (partial batches,
// probabilities, live progress), which layers plan for an input gradient, and misuse errors. Its gradient checks are in
// test_model_gradients.cpp, its CPU↔CUDA agreement in test_model_parity.cpp.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include <gtest/gtest.h>

#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/model/models.h"
#include "engine/runtime/errors.h"
#include "engine/training/batch_gradients.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"
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

TEST(Model, LossFallsWhenFittingASmallProblem) {
  // Two well-separated classes of 4x4 images.
  const int64_t n = 96;
  std::mt19937 rng(10);
  LabeledImages data{Tensor({n, 4, 4}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n; ++i) {
    uint8_t label = static_cast<uint8_t>(i % 2);
    data.labels.data<uint8_t>()[i] = label;
    for (int j = 0; j < 16; ++j)
      data.images.data<uint8_t>()[i * 16 + j] =
          static_cast<uint8_t>((j < 8) == (label == 0) ? 200 + rng() % 50 : rng() % 50);
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
  auto history = Trainer(model).fit(data, options);
  ASSERT_EQ(history.size(), 8u);
  EXPECT_LT(history.back().loss, history.front().loss * 0.5);
  EXPECT_GT(history.back().accuracy, 0.95);
  Evaluation eval = evaluate(model, data, 32);
  EXPECT_GT(eval.accuracy, 0.95);
}

TEST(Model, EvaluateIsTheSameWhateverTheBatchSize) {
  auto model = make_mlp({16}, Device::CPU, 12);
  const int64_t n = 37;
  std::mt19937 rng(13);
  LabeledImages data{Tensor({n, 28, 28}, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < n * 784; ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 256);
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % 10);
  Evaluation whole = evaluate(*model, data, n);
  Evaluation batched = evaluate(*model, data, 8);  // 4 full batches and one of 5
  Evaluation single = evaluate(*model, data, 1);
  EXPECT_NEAR(batched.loss, whole.loss, 1e-5);
  EXPECT_NEAR(single.loss, whole.loss, 1e-5);
  EXPECT_DOUBLE_EQ(batched.accuracy, whole.accuracy);

  Tensor probs = predict(*model, data.images, 8);
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
    Trainer(*model).fit(data, options);
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
  EXPECT_TRUE(all_close(predict(*model, as_floats, 2).to_vector(), to_double(predict(*model, as_bytes, 3).to_vector()),
                        1e-6, 1e-5, "float32 vs uint8 predictions"));
  LabeledImages floats{as_floats.view(), Tensor::zeros({n}, Device::CPU, DType::U8)};
  EXPECT_THROW(evaluate(*model, floats), UsageError);
}

TEST(Model, PredictGivesProbabilitiesOrTheLayersOwnOutputs) {
  std::mt19937 rng(22);
  std::vector<uint8_t> bytes(3 * 784);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  Tensor images = Tensor::wrap(bytes.data(), {3, 28, 28}, Device::CPU, DType::U8);
  auto softmax_of = [](std::vector<float> logits) {
    for (size_t row = 0; row < logits.size(); row += 10) {
      double sum = 0, top = *std::max_element(logits.begin() + row, logits.begin() + row + 10);
      for (size_t j = row; j < row + 10; ++j) sum += std::exp(logits[j] - top);
      for (size_t j = row; j < row + 10; ++j) logits[j] = static_cast<float>(std::exp(logits[j] - top) / sum);
    }
    return logits;
  };
  // From logits (the MLP): the logits as they are, or turned into probabilities.
  auto mlp = make_mlp({16}, Device::CPU, 23);
  const std::vector<float> logits = predict(*mlp, images, 2, /*probabilities=*/false).to_vector();
  EXPECT_TRUE(all_close(predict(*mlp, images, 2).to_vector(), to_double(softmax_of(logits)), 1e-6, 1e-5, "mlp"));
  EXPECT_LT(*std::min_element(logits.begin(), logits.end()), 0.f) << "these are logits, not probabilities";
  // Ending in a softmax the loss took over (the CNN): probabilities both ways.
  auto cnn = make_cnn(4, 8, Device::CPU, 24);
  Tensor channels = images.reshaped({3, 28, 28, 1});
  EXPECT_EQ(predict(*cnn, channels, 2, false).to_vector(), predict(*cnn, channels, 2, true).to_vector());
}

TEST(Model, LiveProgressIsChosenByTheOptions) {
  LabeledImages data = random_labeled_images(20, {28, 28}, 10, 43);
  auto fit_into = [&](LiveProgress live) {
    auto model = make_mlp({8}, Device::CPU, 44);
    std::ostringstream out;
    FitOptions options;
    options.batch_size = 8;
    options.out = &out;
    options.live_progress = live;
    Trainer(*model).fit(data, options);
    return out.str();
  };
  // The live bar ends its epoch by overwriting the running line in place; the plain one prints the final line only.
  EXPECT_NE(fit_into(LiveProgress::Always).find("\r3/3 ["), std::string::npos);
  EXPECT_EQ(fit_into(LiveProgress::Never).find('\r'), std::string::npos);
  const std::string auto_chosen = fit_into(LiveProgress::WhenTerminal);  // a string stream is no terminal
  EXPECT_EQ(auto_chosen.find('\r'), std::string::npos) << auto_chosen;
  EXPECT_NE(auto_chosen.find("3/3 [==============================]"), std::string::npos) << auto_chosen;
}

// Remembers what prepare() was told, so a test can see which layers the model says need an input gradient.
class RecordsPrepare : public Layer {
 public:
  std::string type() const override { return "RecordsPrepare"; }
  std::string default_name() const override { return "records_prepare"; }
  Shape build(const Shape& input) override { return input; }
  void prepare(Device, int64_t rows, bool needs_input_gradient) override {
    calls.push_back({rows, needs_input_gradient});
  }
  void forward(const Tensor& x, Tensor& y, bool) override { y.copy_from(x); }
  void backward(const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) override {
    if (dx) dx->copy_from(dy);
  }
  std::vector<std::pair<int64_t, bool>> calls;
};

// Layers up to the first one with parameters never get an input gradient, so they need not plan for one (a first
// Conv2D then skips choosing a cuDNN backward-data algorithm it would never use).
TEST(Model, OnlyLayersAfterTheFirstTrainableOnePrepareForAnInputGradient) {
  Sequential model;
  auto& before = model.add<RecordsPrepare>();
  model.add<Dense>(5, Activation::ReLU);
  auto& after = model.add<RecordsPrepare>();
  model.add<Dense>(3);
  model.build({6}, Device::CPU, 45);
  model.compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{true});
  Batch b = random_batch(4, {6}, 3, 46, Device::CPU);
  Trainer trainer(model);
  compute_gradients(trainer, b.x, b.labels);
  predict(model, b.x.rows(0, 1));
  using Calls = std::vector<std::pair<int64_t, bool>>;
  EXPECT_EQ(before.calls, (Calls{{4, false}, {1, false}}));
  EXPECT_EQ(after.calls, (Calls{{4, true}, {1, true}}));
}

TEST(Model, MisuseIsReportedInWords) {
  Sequential model;
  EXPECT_THROW(model.build({28, 28}, Device::CPU), UsageError);  // no layers
  model.add<Flatten>();
  model.add<Dense>(10);
  EXPECT_THROW(model.summary(), UsageError);  // not built
  model.build({28, 28}, Device::CPU);
  LabeledImages data{Tensor::zeros({4, 28, 28}, Device::CPU, DType::U8), Tensor::zeros({4}, Device::CPU, DType::U8)};
  expect_one_line_error<UsageError>([&] { Trainer trainer(model); }, {"Trainer: call compile() first"});
  model.compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  Trainer trainer(model);
  FitOptions zero_epochs;
  zero_epochs.epochs = 0;
  EXPECT_THROW(trainer.fit(data, zero_epochs), UsageError);
  LabeledImages wrong{Tensor::zeros({4, 14, 14}, Device::CPU, DType::U8), Tensor::zeros({4}, Device::CPU, DType::U8)};
  try {
    trainer.fit(wrong, {});
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("(14, 14)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Dense(0), UsageError);
  AdamHyper bad;
  bad.learning_rate = -1.f;
  EXPECT_THROW(Adam{bad}, UsageError);
}

}  // namespace
}  // namespace loom::test
