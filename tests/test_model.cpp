// The Sequential model: Keras's summary, whole-model gradient checks on the CPU reference, fit/evaluate/predict
// behaviour (partial batches, probabilities, live progress), misuse errors, and CPU↔CUDA agreement of whole training
// steps, evaluation and prediction, and of CUDA-graph training with ordinary launches.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "engine/layers/activations.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/model/models.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "engine/training/batch_gradients.h"
#include "engine/training/callback.h"
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

// Whole training steps on the GPU against the same steps on the CPU reference.
TEST(ModelParity, CudaTrainingStepsMatchTheCpuReference) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  // SGD, not Adam: Adam's first steps move each parameter by ±lr whatever the gradient's size, so rounding-level
  // differences in near-zero gradients would show as lr-sized differences in the parameters.
  auto cpu = make_mlp({128}, Device::CPU, 14);
  auto gpu = make_mlp({128}, Device::CUDA, 14);
  cpu->compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{true});
  gpu->compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{true});
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  train_side_by_side(cpu_trainer, gpu_trainer, {28, 28}, 10, {32, 16}, 3, 100);  // a full and a partial batch, 3 times
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "parameters after 6 SGD steps"));
  EXPECT_TRUE(
      all_close(gpu->gradients().to_vector(), to_double(cpu->gradients().to_vector()), 1e-6, 1e-3, "last gradients"));
}

// The graph path replays one captured step for every full batch; it must train exactly as ordinary launches do,
// including the partial batch that ends each epoch (100 = 3·32 + 4).
TEST(ModelParity, CudaGraphTrainingMatchesOrdinaryLaunches) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(100, {28, 28}, 10, 15);
  GraphComparison run = fit_with_and_without_graph([] { return make_mlp({64}, Device::CUDA, 16); }, data, 3);
  EXPECT_TRUE(all_close(run.graphed->parameters().to_vector(), to_double(run.eager->parameters().to_vector()), 1e-6,
                        1e-5, "parameters after 3 epochs with and without graphs"));
  for (size_t e = 0; e < run.eager_history.size(); ++e) {
    EXPECT_NEAR(run.graph_history[e].loss, run.eager_history[e].loss, 1e-5) << "epoch " << e;
    EXPECT_DOUBLE_EQ(run.graph_history[e].accuracy, run.eager_history[e].accuracy) << "epoch " << e;
    EXPECT_EQ(run.eager_history[e].graph_steps, 0) << "epoch " << e;
    // Three full batches an epoch; the very first runs as ordinary launches, to warm the libraries up.
    EXPECT_EQ(run.graph_history[e].graph_steps, e == 0 ? 2 : 3) << "epoch " << e << ": the graph was not replayed";
    EXPECT_GT(run.graph_history[e].device_ms, 0.0) << "epoch " << e;
  }
  EXPECT_EQ(run.graph_trainer->graph_captures(), 1);
  EXPECT_EQ(run.graph_trainer->graph_failure(), "");
}

// A graph must never outlive the memory it points at: evaluate with a larger batch reallocates the activations, and
// the next fit uploads its data anew. The graphed model must recapture and train exactly as ordinary launches do.
TEST(ModelParity, CudaGraphIsRecapturedWhenItsMemoryMoves) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(100, {28, 28}, 10, 31);
  int64_t captures = 0;
  auto run = [&](bool graph, std::vector<EpochResult>& history, Evaluation& between) {
    auto model = make_mlp({64}, Device::CUDA, 32);
    Trainer trainer(*model);
    FitOptions options;
    options.epochs = 2;
    options.verbose = 0;
    options.cuda_graph = graph;
    trainer.fit(data, options);
    between = evaluate(*model, data, 100);  // more rows than fit's 32: every activation buffer is reallocated
    history = trainer.fit(data, options);
    captures = trainer.graph_captures();
    return model;
  };
  std::vector<EpochResult> eager_history, graph_history;
  Evaluation eager_eval, graph_eval;
  auto eager = run(false, eager_history, eager_eval);
  auto graphed = run(true, graph_history, graph_eval);
  EXPECT_EQ(captures, 2) << "the second fit must capture anew";
  for (size_t e = 0; e < graph_history.size(); ++e) {
    EXPECT_GT(graph_history[e].graph_steps, 0) << "second fit, epoch " << e;
    EXPECT_NEAR(graph_history[e].loss, eager_history[e].loss, 1e-5) << "second fit, epoch " << e;
  }
  EXPECT_NEAR(graph_eval.loss, eager_eval.loss, 1e-5);
  EXPECT_TRUE(all_close(graphed->parameters().to_vector(), to_double(eager->parameters().to_vector()), 1e-6, 1e-5,
                        "parameters after fit, evaluate(batch 100), fit"));
}

// Passes its input through, but refuses to be captured into a CUDA graph: the way to see fit's fallback at work.
class RefusesCapture : public Layer {
 public:
  std::string type() const override { return "RefusesCapture"; }
  std::string default_name() const override { return "refuses_capture"; }
  Shape build(const Shape& input) override { return input; }
  void forward(const Tensor& x, Tensor& y, bool) override {
    if (x.device() == Device::CUDA) {
      if (CudaContext::get().capturing()) throw Error("refuses_capture: planted failure inside a capture");
    }
    y.copy_from(x);
  }
  void backward(const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) override {
    if (dx) dx->copy_from(dy);
  }
};

TEST(ModelParity, FailedGraphCaptureSaysSoOnceAndTrainsWithoutIt) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(100, {28, 28}, 10, 33);
  auto build = [] {
    auto model = std::make_unique<Sequential>();
    model->add<Flatten>();
    model->add<Dense>(16, Activation::ReLU);
    model->add<RefusesCapture>();
    model->add<Dense>(10);
    model->build({28, 28}, Device::CUDA, 34);
    model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
    return model;
  };
  auto eager = build(), graphed = build();
  Trainer eager_trainer(*eager), graph_trainer(*graphed);
  FitOptions options;
  options.epochs = 2;
  options.verbose = 0;
  options.cuda_graph = false;
  eager_trainer.fit(data, options);
  eager_trainer.fit(data, options);
  options.cuda_graph = true;
  ::testing::internal::CaptureStderr();
  auto first = graph_trainer.fit(data, options);
  auto second = graph_trainer.fit(data, options);
  const std::string said = ::testing::internal::GetCapturedStderr();
  const std::string line = "CUDA graph capture failed, training without graphs";
  ASSERT_NE(said.find(line), std::string::npos) << said;
  EXPECT_EQ(said.find(line, said.find(line) + 1), std::string::npos) << "said more than once: " << said;
  EXPECT_NE(said.find("planted failure"), std::string::npos) << "the reason is part of the line: " << said;
  EXPECT_NE(graph_trainer.graph_failure().find("planted failure"), std::string::npos) << graph_trainer.graph_failure();
  EXPECT_EQ(graph_trainer.graph_captures(), 0);
  for (const auto& epoch : first) EXPECT_EQ(epoch.graph_steps, 0);
  for (const auto& epoch : second) EXPECT_EQ(epoch.graph_steps, 0);
  EXPECT_TRUE(all_close(graphed->parameters().to_vector(), to_double(eager->parameters().to_vector()), 1e-6, 1e-5,
                        "parameters after the fallback and after ordinary launches"));
}

// Records the running totals fit makes known after each step, and on the GPU holds the host back now and then, so
// that a snapshot lands while the host waits and the progress bar (which redraws at most every 50 ms) shows it.
class RunningTotalsRecorder : public Callback {
 public:
  struct Seen {
    int epoch;
    int64_t step;
    double loss, accuracy;
  };
  explicit RunningTotalsRecorder(bool hold_the_host) : hold_the_host_(hold_the_host) {}
  bool reads_running_totals() const override { return true; }
  void on_epoch_begin(FitContext&, int epoch) override { epoch_ = epoch; }
  void on_batch_end(FitContext& context, int64_t step) override {
    double loss = 0, accuracy = 0;
    if (context.running_totals(loss, accuracy)) seen.push_back({epoch_, step, loss, accuracy});
    if (hold_the_host_ && step % 8 == 7) std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  std::vector<Seen> seen;

 private:
  bool hold_the_host_;
  int epoch_ = 0;
};

// The live progress bar reads the running totals from the GPU through the monitor on every step; it must not change
// what is trained, nor trip over a snapshot that has not landed yet, and what it shows mid-epoch must be a real
// running mean: each value fit made known is held against the CPU's exact running means of the same training.
TEST(ModelParity, CudaFitWithTheLiveProgressBarTrainsAsWithout) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(2000, {28, 28}, 10, 35);  // 62 full batches and one of 16 an epoch
  auto quiet = make_mlp({64}, Device::CUDA, 36), live = make_mlp({64}, Device::CUDA, 36);
  auto exact = make_mlp({64}, Device::CPU, 36);
  FitOptions options;
  options.epochs = 2;
  options.verbose = 0;
  auto quiet_history = Trainer(*quiet).fit(data, options);
  RunningTotalsRecorder cpu_means(false);
  options.callbacks = {&cpu_means};
  Trainer(*exact).fit(data, options);  // on the CPU the running totals are exact after every step
  std::ostringstream out;
  RunningTotalsRecorder gpu_snapshots(true);
  options.callbacks = {&gpu_snapshots};
  options.verbose = 1;
  options.out = &out;
  options.live_progress = LiveProgress::Always;
  auto live_history = Trainer(*live).fit(data, options);
  EXPECT_NE(out.str().find("\r63/63 ["), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Epoch 2/2"), std::string::npos) << out.str();
  for (size_t e = 0; e < quiet_history.size(); ++e) EXPECT_NEAR(live_history[e].loss, quiet_history[e].loss, 1e-5);
  EXPECT_TRUE(all_close(live->parameters().to_vector(), to_double(quiet->parameters().to_vector()), 1e-6, 1e-5,
                        "parameters trained with and without the live bar"));

  // A running line drawn mid-epoch shows a loss, and only a landed GPU snapshot could have given it one.
  bool drawn_mid_epoch = false;
  for (size_t at = out.str().find('\r'); at != std::string::npos; at = out.str().find('\r', at + 1)) {
    const std::string line = out.str().substr(at + 1, out.str().find_first_of("\r\n", at + 1) - at - 1);
    drawn_mid_epoch = drawn_mid_epoch || (line.rfind("63/63 ", 0) != 0 && line.find(" - loss: ") != std::string::npos);
  }
  EXPECT_TRUE(drawn_mid_epoch) << "no running line showed a loss:\n" << out.str();
  // Each pair of values made known after step s is the CPU's pair of running means after some step m <= s of the
  // same epoch: the loss within 1e-4 (GPU and CPU train alike within 1e-5 here), the accuracy within a near-tie.
  ASSERT_EQ(cpu_means.seen.size(), 2u * 63) << "the CPU knows its running totals after every step";
  ASSERT_FALSE(gpu_snapshots.seen.empty()) << "no GPU snapshot ever landed during an epoch";
  EXPECT_LT(gpu_snapshots.seen.front().step, 62) << "the first snapshot landed only at the end of the epoch";
  for (const RunningTotalsRecorder::Seen& g : gpu_snapshots.seen) {
    const bool found = std::any_of(cpu_means.seen.begin(), cpu_means.seen.end(), [&](const auto& c) {
      return c.epoch == g.epoch && c.step <= g.step && std::fabs(c.loss - g.loss) <= 1e-4 * c.loss &&
             std::fabs(c.accuracy - g.accuracy) <= 1.0 / (32 * (c.step + 1)) + 1e-12;
    });
    EXPECT_TRUE(found) << "epoch " << g.epoch + 1 << ", step " << g.step + 1 << ": loss " << g.loss << " and accuracy "
                       << g.accuracy << " are no running means the epoch had reached";
  }
}

// evaluate and predict on the GPU against the CPU reference: uint8 and float32 images, batch sizes that leave a
// partial last batch, and a single image.
TEST(ModelParity, CudaEvaluateAndPredictMatchTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const int64_t n = 37;
  LabeledImages data = random_labeled_images(n, {28, 28}, 10, 37);
  auto cpu = make_mlp({32}, Device::CPU, 38);
  auto gpu = make_mlp({32}, Device::CUDA, 38);
  for (int64_t batch : {int64_t{8}, n, int64_t{1}}) {  // 4 full batches and one of 5; all at once; one image at a time
    SCOPED_TRACE("batch " + std::to_string(batch));
    Evaluation c = evaluate(*cpu, data, batch), g = evaluate(*gpu, data, batch);
    EXPECT_NEAR(g.loss, c.loss, 1e-5 + 1e-4 * c.loss);  // a mean of 37 float losses
    // Float sums in another order may flip an argmax between two near-equal logits: allow one sample of 37.
    EXPECT_NEAR(g.accuracy, c.accuracy, 1.0 / n + 1e-12);
    EXPECT_TRUE(all_close(predict(*gpu, data.images, batch).to_vector(),
                          to_double(predict(*cpu, data.images, batch).to_vector()), 1e-6, 1e-4,
                          "probabilities of uint8 images"));
  }
  std::vector<float> scaled(static_cast<size_t>(n * 784));
  for (size_t i = 0; i < scaled.size(); ++i) scaled[i] = data.images.data<uint8_t>()[i] / 255.f;
  Tensor floats = make_tensor(scaled, {n, 28, 28}, Device::CPU);
  Tensor expected = predict(*cpu, data.images, 8);
  EXPECT_TRUE(all_close(predict(*gpu, floats, 6).to_vector(), to_double(expected.to_vector()), 1e-6, 1e-4,
                        "probabilities of float32 images, batches of 6"));
  EXPECT_TRUE(all_close(predict(*gpu, floats.rows(0, 1)).to_vector(), to_double(expected.rows(0, 1).to_vector()), 1e-6,
                        1e-4, "one float32 image"));
}

// Layer kinds and loss paths the tutorial models do not use, trained on the GPU against the CPU reference.
void expect_cuda_training_matches_cpu(const std::function<void(Sequential&)>& add_layers, bool from_logits,
                                      const std::string& what) {
  SCOPED_TRACE(what);
  auto build = [&](Device device) {
    auto model = std::make_unique<Sequential>();
    add_layers(*model);
    model->build({4, 5}, device, 41);
    model->compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{from_logits});
    return model;
  };
  auto cpu = build(Device::CPU), gpu = build(Device::CUDA);
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  train_side_by_side(cpu_trainer, gpu_trainer, {4, 5}, 4, {8, 3}, 2, 300);  // a full and a partial batch, twice
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "parameters after 4 SGD steps"));
  LabeledImages data = random_labeled_images(9, {4, 5}, 4, 42);
  EXPECT_TRUE(all_close(predict(*gpu, data.images, 4).to_vector(), to_double(predict(*cpu, data.images, 4).to_vector()),
                        1e-6, 1e-4, "predicted probabilities"));
}

TEST(ModelParity, CudaStandaloneReluAndSoftmaxLayers) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  // ReLU as a layer of its own; a final Softmax layer handed to the loss (it becomes the identity).
  expect_cuda_training_matches_cpu(
      [](Sequential& m) {
        m.add<Flatten>();
        m.add<Dense>(8);
        m.add<ReLU>();
        m.add<Dense>(4);
        m.add<Softmax>();
      },
      false, "Dense, ReLU layer, Dense, Softmax layer (handed to the loss)");
  // A Softmax layer that stays a layer (the loss takes logits, so it does not take over): its own forward and
  // backward kernels run inside the model.
  expect_cuda_training_matches_cpu(
      [](Sequential& m) {
        m.add<Flatten>();
        m.add<Dense>(8, Activation::ReLU);
        m.add<Dense>(4);
        m.add<Softmax>();
      },
      true, "Softmax layer kept, loss from logits");
}

TEST(ModelParity, CudaCrossEntropyOnProbabilities) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  // The output is probabilities that no final softmax produced (a ReLU after Dense(softmax)), so the loss takes them
  // as they are: the clipped cross-entropy path, and Dense's unfused softmax backward.
  expect_cuda_training_matches_cpu(
      [](Sequential& m) {
        m.add<Flatten>();
        m.add<Dense>(8, Activation::ReLU);
        m.add<Dense>(4, Activation::Softmax);
        m.add<ReLU>();
      },
      false, "cross-entropy on probabilities");
}

}  // namespace
}  // namespace loom::test
