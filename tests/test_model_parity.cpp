// Whole models on CUDA against the CPU reference: steps, fit (graphs, live bar, augmentation), evaluate, predict.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/model/models.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "engine/training/callback.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

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

TEST(ModelParity, CudaCnnStepsMatchTheCpuReference) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  auto cpu = make_cnn(16, 32, Device::CPU, 25);
  auto gpu = make_cnn(16, 32, Device::CUDA, 25);
  // SGD keeps parameter differences proportional to gradient differences (see the MLP parity test).
  cpu->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{false});
  gpu->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{false});
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  train_side_by_side(cpu_trainer, gpu_trainer, {28, 28, 1}, 10, {32, 16, 1}, 2, 200);
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "CNN parameters after 6 SGD steps"));
}

TEST(ModelParity, CudaCnnEvaluateAndPredictMatchTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  auto cpu = small_cnn(Device::CPU, 23), gpu = small_cnn(Device::CUDA, 23);
  const int64_t n = 11;
  LabeledImages data = random_labeled_images(n, {7, 7, 2}, 4, 24);
  for (int64_t batch :
       {int64_t{4}, n, int64_t{1}}) {  // 4 + 4 + 3; all at once; one image at a time: a cuDNN plan for each size
    SCOPED_TRACE("batch " + std::to_string(batch));
    Evaluation c = evaluate(*cpu, data, batch), g = evaluate(*gpu, data, batch);
    EXPECT_NEAR(g.loss, c.loss, 1e-5 + 1e-4 * c.loss);
    EXPECT_NEAR(g.accuracy, c.accuracy, 1.0 / n + 1e-12);  // one near-tie may fall the other way
    EXPECT_TRUE(all_close(predict(*gpu, data.images, batch).to_vector(),
                          to_double(predict(*cpu, data.images, batch).to_vector()), 1e-6, 1e-4, "CNN probabilities"));
  }
}

// cuDNN calls captured into a CUDA graph: the legacy API does not document capture, so this is where a failure would
// show. The graph must be used (no silent fallback) and train exactly as ordinary launches.
TEST(ModelParity, CudaCnnGraphTrainingMatchesOrdinaryLaunches) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(70, {28, 28, 1}, 10, 26);  // 2 full batches of 32 and one of 6
  GraphComparison run = fit_with_and_without_graph([] { return make_cnn(8, 16, Device::CUDA, 27); }, data, 2);
  EXPECT_EQ(run.graph_trainer->graph_failure(), "");
  EXPECT_EQ(run.graph_trainer->graph_captures(), 1);
  for (size_t e = 0; e < run.graph_history.size(); ++e) {
    EXPECT_EQ(run.graph_history[e].graph_steps, e == 0 ? 1 : 2) << "epoch " << e << " (the first step warms up)";
    EXPECT_NEAR(run.graph_history[e].loss, run.eager_history[e].loss, 1e-5) << "epoch " << e;
  }
  // Both runs use the same deterministic cuDNN algorithms; the tolerance covers the atomics that sum the loss totals
  // and, over the convolutions' many rows, the bias gradients (in any order).
  EXPECT_TRUE(all_close(run.graphed->parameters().to_vector(), to_double(run.eager->parameters().to_vector()), 1e-6,
                        1e-5, "CNN parameters after 2 epochs with and without graphs"));
}

// At a learning rate of 0.01: at 0.05 these steps amplify rounding, and the CPU and the CUDA path, whose sums round
// in different orders, drift apart from 3e-7 after one step to 2e-5 after two and 8e-4 after three (seen on the CUDA
// simulator); at 0.01 they agree to 2e-7 after all six, which a wrong gradient would not.
TEST(ModelParity, CudaBestCnnStepsMatchTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  auto cpu = make_best_cnn(Device::CPU, 25);
  auto gpu = make_best_cnn(Device::CUDA, 25);
  cpu->compile(std::make_unique<SGD>(0.01f), SparseCategoricalCrossentropy{false});
  gpu->compile(std::make_unique<SGD>(0.01f), SparseCategoricalCrossentropy{false});
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  train_side_by_side(cpu_trainer, gpu_trainer, kCnnInputShape, 10, {32, 16, 1}, 2, 200);
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "preset CNN parameters (moving statistics included) after 6 SGD steps"));
}

// Batch normalization inside a model on the GPU against the CPU, in training and in inference, from one image to a
// batch of 2,048. Each sample is 26 x 26 positions of a convolution's channels, so the layer sees 67,600 rows of
// channels at batch 100 and 1.4 million at 2,048: more than cuDNN's spatial kernels take as a batch (65,535 in
// inference, 880,801 in training), which is where describing positions as samples failed.
TEST(ModelParity, CudaBatchNormalizationInAModelMatchesTheCpuAtEveryBatchSize) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  auto build = [](Device device) {
    auto model = std::make_unique<Sequential>();
    model->add<Conv2D>(4, 3);
    model->add<BatchNormalization>(0.9f);  // a large step of the moving statistics, so a wrong update shows
    model->add<ReLU>();
    model->add<Flatten>();
    model->add<Dense>(10);
    model->build({28, 28, 1}, device, 51);
    model->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{true});
    return model;
  };
  auto cpu = build(Device::CPU), gpu = build(Device::CUDA);
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  for (int64_t batch : {int64_t{1}, int64_t{32}, int64_t{100}, int64_t{2048}}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const LabeledImages data = random_labeled_images(batch, {28, 28, 1}, 10, static_cast<unsigned>(52 + batch));
    // Inference with the moving statistics as they stand, a training step on the batch's own statistics (which
    // moves them), and inference again.
    EXPECT_TRUE(all_close(predict(*gpu, data.images, batch).to_vector(),
                          to_double(predict(*cpu, data.images, batch).to_vector()), 1e-6, 1e-4,
                          "probabilities before the step"));
    train_side_by_side(cpu_trainer, gpu_trainer, {28, 28, 1}, 10, {batch}, 1, static_cast<unsigned>(60 + batch));
    EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                          "parameters and moving statistics after an SGD step"));
    EXPECT_TRUE(all_close(predict(*gpu, data.images, batch).to_vector(),
                          to_double(predict(*cpu, data.images, batch).to_vector()), 1e-6, 1e-4,
                          "probabilities after the step"));
  }
}

// Inference batches larger than cuDNN's largest are normalized in chunks: two full chunks and the rest, against the
// CPU. Small images of several positions (3 x 4 of 2 channels), so a chunk that started at the wrong sample or
// position would show, and the test stays small.
TEST(ModelParity, CudaBatchNormalizationInfersBatchesBeyondCudnnsLargest) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Shape sample{3, 4, 2};
  auto build = [&](Device device) {
    auto model = std::make_unique<Sequential>();
    model->add<BatchNormalization>();
    model->add<Flatten>();
    model->add<Dense>(3);
    model->build(sample, device, 53);
    model->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{true});
    return model;
  };
  auto cpu = build(Device::CPU), gpu = build(Device::CUDA);
  Trainer cpu_trainer(*cpu), gpu_trainer(*gpu);
  // Moving statistics that are not their initial 0 and 1.
  train_side_by_side(cpu_trainer, gpu_trainer, sample, 3, {64}, 1, 54);
  const int64_t n = 2 * cuda::BatchNormPlan::kMaxInferenceChunk + 8930;
  const LabeledImages data = random_labeled_images(n, sample, 3, 55);
  EXPECT_TRUE(all_close(predict(*gpu, data.images, n).to_vector(), to_double(predict(*cpu, data.images, n).to_vector()),
                        1e-6, 1e-4, "probabilities of 140,000 samples in one batch"));
}

// fit's options for the CUDA tests of augmented training: the preset's shifts and flips, quiet.
FitOptions augmented_fit_options(int epochs) {
  FitOptions options;
  options.epochs = epochs;
  options.verbose = 0;
  options.augmentation = {2, true};
  return options;
}

// Through fit, augmentation and dropout included: the CUDA side draws the shifts, flips and masks the CPU draws.
TEST(ModelParity, CudaAugmentedFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const LabeledImages data = random_labeled_images(96, {28, 28, 1}, 10, 6);
  const FitOptions options = augmented_fit_options(1);
  auto cpu = make_best_cnn(Device::CPU, 8), gpu = make_best_cnn(Device::CUDA, 8);
  cpu->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{false});
  gpu->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{false});
  Trainer(*cpu).fit(data, options);
  Trainer(*gpu).fit(data, options);
  EXPECT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 1e-5, 1e-3,
                        "preset CNN parameters after an augmented epoch of 3 SGD steps"));
}

TEST(ModelParity, CudaAugmentedFitWithAndWithoutGraphsAgree) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const LabeledImages data = random_labeled_images(200, {28, 28, 1}, 10, 4);
  FitOptions options = augmented_fit_options(2);
  auto eager = make_best_cnn(Device::CUDA, 3), graphed = make_best_cnn(Device::CUDA, 3);
  options.cuda_graph = false;
  Trainer(*eager).fit(data, options);
  options.cuda_graph = true;
  History h = Trainer(*graphed).fit(data, options);
  EXPECT_GT(h.back().graph_steps, 0);
  EXPECT_TRUE(all_close(graphed->parameters().to_vector(), to_double(eager->parameters().to_vector()), 1e-5, 1e-4,
                        "parameters: a replayed graph draws the masks and shifts ordinary launches draw"));
}

}  // namespace
}  // namespace loom::test
