// Batch normalization, dropout and augmentation as layers and as parts of training (the ops' gradient checks are in
// test_gradients.cpp, their CPU/CUDA parity in test_ops_parity.cpp): Keras's semantics in training and evaluation,
// the random numbers' reproducibility (Philox's published answers, masks keyed by step and layer, resume), the
// preset model's summary and saved files. Models with these layers are gradient-checked in test_model_gradients.cpp
// and held against the CPU on CUDA in test_model_parity.cpp.
#include <cmath>
#include <numeric>
#include <set>

#include <gtest/gtest.h>

#include "engine/data/device_dataset.h"
#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/model/architecture.h"
#include "engine/model/model_file.h"
#include "engine/model/models.h"
#include "engine/training/batch_gradients.h"
#include "engine/training/checkpoint.h"
#include "engine/training/inference.h"
#include "engine/training/train_step.h"
#include "engine/training/trainer.h"
#include "kernels/dropout.h"
#include "kernels/gather_batch.h"
#include "kernels/philox.h"
#include "kernels/step_state.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// Random123's known-answer vectors for Philox4x32-10 (its kat_vectors file).
TEST(Philox, MatchesThePublishedAnswers) {
  struct Case {
    PhiloxBlock counter;
    uint32_t k0, k1;
    PhiloxBlock expected;
  };
  const Case cases[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}}},
      {{{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}},
       0xffffffff,
       0xffffffff,
       {{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}}},
      {{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}},
       0xa4093822,
       0x299f31d0,
       {{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}}},
  };
  for (const Case& c : cases) {
    const PhiloxBlock got = philox4x32_10(c.counter, c.k0, c.k1);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(got.word[k], c.expected.word[k]) << "word " << k;
  }
}

std::vector<float> dropped(const std::vector<float>& x, float rate, PhiloxKey key, int32_t step) {
  Tensor state = make_labels({0, step, 0, 0}, Device::CPU);
  Tensor tx = make_tensor(x, {static_cast<int64_t>(x.size())}, Device::CPU), ty({tx.numel()}, Device::CPU);
  dropout(tx, ty, rate, key, state);
  return ty.to_vector();
}

TEST(Dropout, ZeroesTheRateAndScalesTheRestByItsInverse) {
  const std::vector<float> ones(100000, 1.f);
  for (float rate : {0.f, 0.1f, 0.5f, 0.9f}) {
    SCOPED_TRACE("rate " + std::to_string(rate));
    const std::vector<float> y = dropped(ones, rate, philox_key(1, kFirstLayerStream), 0);
    int64_t zeros = 0;
    for (float v : y) {
      if (v == 0.f)
        ++zeros;
      else
        ASSERT_EQ(v, dropout_scale(rate));
    }
    // Binomial: the standard deviation of the fraction is at most 0.0016 here; 5 of them.
    EXPECT_NEAR(static_cast<double>(zeros) / ones.size(), rate, 0.008);
    const double mean = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
    EXPECT_NEAR(mean, 1.0, rate == 0.9f ? 0.08 : 0.02) << "inverted dropout keeps the expectation";
  }
}

TEST(Dropout, TheMaskFollowsTheStepAndTheLayer) {
  std::mt19937 rng(2);
  const std::vector<float> x = random_floats(4096, rng, 0.5f, 1.f);
  const PhiloxKey layer = philox_key(7, kFirstLayerStream + 3), other = philox_key(7, kFirstLayerStream + 4);
  const PhiloxKey other_seed = philox_key(8, kFirstLayerStream + 3);
  const std::vector<float> a = dropped(x, 0.5f, layer, 10);
  EXPECT_EQ(dropped(x, 0.5f, layer, 10), a) << "the same step and key draw the same mask";
  for (const auto& [what, y] : {std::pair{"the next step", dropped(x, 0.5f, layer, 11)},
                                std::pair{"another layer", dropped(x, 0.5f, other, 10)},
                                std::pair{"another seed", dropped(x, 0.5f, other_seed, 10)}}) {
    int64_t same = 0;
    for (size_t i = 0; i < x.size(); ++i) same += (a[i] == 0.f) == (y[i] == 0.f);
    EXPECT_NEAR(static_cast<double>(same) / x.size(), 0.5, 0.05) << what << " draws an independent mask";
  }
}

TEST(DropoutLayer, PassesItsInputThroughOutsideTraining) {
  Dropout layer(0.5);
  layer.build({6});
  std::mt19937 rng(3);
  Tensor x = make_tensor(random_floats(24, rng), {4, 6}, Device::CPU), y({4, 6}, Device::CPU);
  layer.forward(x, y, /*training=*/false);
  EXPECT_EQ(y.to_vector(), x.to_vector());
  expect_one_line_error<UsageError>([&] { layer.forward(x, y, /*training=*/true); },
                                    {"Dropout", "train the model through a Trainer"});
  expect_one_line_error<UsageError>([] { Dropout bad(1.0); }, {"Dropout: the rate must lie in [0, 1), got 1"});
  expect_one_line_error<UsageError>([] { Dropout bad(-0.25); }, {"Dropout: the rate must lie in [0, 1), got -0.25"});
  // Below 1 as typed, 1 as the float the mask is drawn with: refused when the layer is made, not in a training step.
  expect_one_line_error<UsageError>([] { Dropout bad(0.99999999); },
                                    {"Dropout: the rate must lie in [0, 1), got 0.99999999 (1 as a 32-bit float)"});
  Dropout almost(0.9999);  // below 1 as a float too: accepted
}

// A model of one BatchNormalization layer and the tensors it was bound to.
struct NormalizedModel {
  std::unique_ptr<Sequential> model;
  const Parameter& parameter(const std::string& variable) const {
    return model->parameter_store().find("batch_normalization." + variable);
  }
  std::vector<float> value(const std::string& variable) const {
    return model->parameter_store().value(parameter(variable)).to_vector();
  }
};

NormalizedModel normalized_model(float momentum) {
  NormalizedModel m{std::make_unique<Sequential>()};
  m.model->add<BatchNormalization>(momentum);
  m.model->build({3}, Device::CPU, 1);
  m.model->compile(std::make_unique<SGD>(0.f + 1e-30f), SparseCategoricalCrossentropy{true});
  return m;
}

// Keras's numbers, worked by hand: in training the output of each feature has mean β = 0 and variance
// var / (var + ε) (γ = 1); one step moves the moving statistics by (1 − momentum) of the way to the batch's, with
// the biased variance; evaluation then normalizes by the moving statistics.
TEST(BatchNormalizationLayer, FollowsKerasInTrainingAndInference) {
  NormalizedModel m = normalized_model(0.9f);
  EXPECT_EQ(m.value("gamma"), std::vector<float>(3, 1.f));
  EXPECT_EQ(m.value("moving_variance"), std::vector<float>(3, 1.f));
  EXPECT_FALSE(m.parameter("moving_mean").trainable);
  EXPECT_TRUE(m.parameter("beta").trainable);
  const std::vector<float> x = {1, 10, -3,  //
                                2, 20, -3,  //
                                3, 30, -3,  //
                                6, 40, -3};
  const double mean[3] = {3, 25, -3}, variance[3] = {3.5, 125, 0};  // biased: Σ(x − mean)² / 4
  Tensor tx = make_tensor(x, {4, 3}, Device::CPU);
  Tensor labels = make_labels({0, 1, 2, 0}, Device::CPU);
  Trainer trainer(*m.model);
  compute_gradients(trainer, tx, labels);  // one training-mode forward pass
  const std::vector<float> moving_mean = m.value("moving_mean"), moving_var = m.value("moving_variance");
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(moving_mean[k], 0.1 * mean[k], 1e-6) << "feature " << k;
    EXPECT_NEAR(moving_var[k], 0.9 + 0.1 * variance[k], 1e-5) << "feature " << k;
  }
  // Evaluation: (x − moving mean) / √(moving var + ε), γ = 1, β = 0, seen through predict's softmax.
  Tensor probs = predict(*m.model, tx.rows(0, 1), 1);
  std::vector<double> z(3), expected(3);
  for (int k = 0; k < 3; ++k) z[k] = (x[k] - moving_mean[k]) / std::sqrt(moving_var[k] + 1e-3);
  const double total = std::exp(z[0]) + std::exp(z[1]) + std::exp(z[2]);
  for (int k = 0; k < 3; ++k) expected[k] = std::exp(z[k]) / total;
  EXPECT_TRUE(all_close(probs.to_vector(), expected, 1e-6, 1e-5, "inference through the moving statistics"));
}

TEST(BatchNormalizationLayer, TrainingOutputIsNormalizedPerFeature) {
  BatchNormalization layer;
  layer.build({5, 5, 4});
  std::vector<Tensor> params, grads;
  for (float init : {1.f, 0.f, 0.f, 1.f}) {
    params.push_back(Tensor::zeros({4}, Device::CPU));
    params.back().fill(init);
    grads.push_back(Tensor::zeros({4}, Device::CPU));
  }
  layer.bind_params(std::move(params), std::move(grads));
  layer.prepare(Device::CPU, 3, true);
  std::mt19937 rng(4);
  Tensor x = make_tensor(random_floats(3 * 25 * 4, rng, -5.f, 20.f), {3, 5, 5, 4}, Device::CPU);
  Tensor y({3, 5, 5, 4}, Device::CPU);
  layer.forward(x, y, true);
  const std::vector<float> out = y.to_vector();
  for (int k = 0; k < 4; ++k) {
    double sum = 0, squares = 0;
    for (int64_t r = 0; r < 75; ++r) sum += out[r * 4 + k];
    for (int64_t r = 0; r < 75; ++r) squares += (out[r * 4 + k] - sum / 75) * (out[r * 4 + k] - sum / 75);
    EXPECT_NEAR(sum / 75, 0.0, 1e-5) << "channel " << k;
    EXPECT_NEAR(squares / 75, 1.0, 1e-3) << "channel " << k << " (ε takes a little off a variance near 47)";
  }
}

TEST(BatchNormalizationLayer, RefusesSettingsOutsideTheirRanges) {
  expect_one_line_error<UsageError>([] { BatchNormalization bad(1.f); },
                                    {"BatchNormalization: momentum must lie in [0, 1)"});
  expect_one_line_error<UsageError>([] { BatchNormalization bad(0.99f, 0.f); },
                                    {"BatchNormalization: epsilon must be a positive number, got 0"});
  expect_one_line_error<UsageError>([] { BatchNormalization bad(0.99f, -1e-9f); },
                                    {"BatchNormalization: epsilon must be a positive number, got -1e-09"});
  BatchNormalization small(0.99f, 1e-6f);  // below older cuDNN releases' floor of 1e-5; cuDNN 9's is 0
  BatchNormalization layer;
  expect_one_line_error<UsageError>([&] { layer.build({}); }, {"needs per-sample input with a feature axis"});
}

// images: one bright pixel per sample at (row, column), channel 0; the rest of the image 0.
LabeledImages single_pixel_images(int64_t n, int64_t side, int64_t channels, int64_t row, int64_t column) {
  LabeledImages data{Tensor::zeros({n, side, side, channels}, Device::CPU, DType::U8),
                     Tensor::zeros({n}, Device::CPU, DType::U8)};
  for (int64_t b = 0; b < n; ++b) data.images.data<uint8_t>()[((b * side + row) * side + column) * channels] = 255;
  return data;
}

// Where each sample's bright pixel lands after augmentation, for the step the state holds.
TEST(Augmentation, ShiftsAndFlipsAsTheDrawsSayAndFillsWithZeros) {
  const int64_t n = 64, side = 9, channels = 2;
  const LabeledImages data = single_pixel_images(n, side, channels, 4, 1);
  DeviceDataset set(data, {side, side, channels}, Device::CPU, 0);
  set.begin_epoch(/*shuffle=*/false);
  const Augmentation augmentation{3, true};
  const PhiloxKey key = philox_key(5, kAugmentationStream);
  set.set_augmentation(augmentation, key, "test");
  std::set<std::pair<int, int>> shifts;
  int flips = 0;
  for (int32_t step = 0; step < 8; ++step) {
    Tensor state = make_labels({0, step, 0, 0}, Device::CPU);
    Tensor cursor = state.rows(0, 1), x({n, side, side, channels}, Device::CPU), y({n}, Device::CPU, DType::I32);
    set.gather_training(cursor, state, x, y);
    const float* px = x.f32();
    for (int64_t b = 0; b < n; ++b) {
      const SampleTransform t = sample_transform(key, step, b, 3, true);
      ASSERT_LE(std::abs(t.shift_y), 3);
      ASSERT_LE(std::abs(t.shift_x), 3);
      shifts.insert({t.shift_y, t.shift_x});
      flips += t.flip;
      // Output (i, j) reads (i + dy, j' + dx): the pixel at (4, 1) appears at i = 4 − dy, j' = 1 − dx.
      const int64_t i = 4 - t.shift_y, jj = 1 - t.shift_x, j = t.flip ? side - 1 - jj : jj;
      const bool visible = jj >= 0 && jj < side;
      double total = 0;
      for (int64_t p = 0; p < side * side * channels; ++p) total += px[b * side * side * channels + p];
      if (visible) {
        EXPECT_EQ(px[((b * side + i) * side + j) * channels], 1.f) << "sample " << b << " step " << step;
        EXPECT_EQ(total, 1.0) << "one pixel, the rest zeros";
      } else {
        EXPECT_EQ(total, 0.0) << "shifted out of view: all zeros";
      }
    }
  }
  EXPECT_EQ(shifts.size(), 49u) << "every shift in [-3, 3]² is drawn";
  EXPECT_NEAR(flips, 8 * n / 2, 8 * n / 8) << "one in two flipped";
}

TEST(Augmentation, OffGathersTheStoredImages) {
  const LabeledImages data = random_labeled_images(20, {6, 6, 1}, 3, 7);
  DeviceDataset set(data, {6, 6, 1}, Device::CPU, 0);
  set.begin_epoch(/*shuffle=*/true);
  Tensor state = make_labels({4, 3, 0, 0}, Device::CPU);
  Tensor cursor = state.rows(0, 1), a({8, 6, 6, 1}, Device::CPU), b({8, 6, 6, 1}, Device::CPU);
  Tensor ya({8}, Device::CPU, DType::I32), yb({8}, Device::CPU, DType::I32);
  set.gather(cursor, a, ya);
  set.gather_training(cursor, state, b, yb);
  EXPECT_EQ(a.to_vector(), b.to_vector());
}

TEST(Augmentation, FitRefusesWhatCannotBeAugmented) {
  auto mlp = make_mlp({8}, Device::CPU, 1);
  FitOptions options;
  options.verbose = 0;
  options.augmentation = {28, false};
  const LabeledImages images = random_labeled_images(16, {28, 28}, 10, 1);
  expect_one_line_error<UsageError>(
      [&] { Trainer(*mlp).fit(images, options); },
      {"fit: a random shift of up to 28 pixels must be at least 0 and less than the 28x28 "
       "images' sides"});
  auto flat = std::make_unique<Sequential>();
  flat->add<Dense>(10);
  flat->build({784}, Device::CPU, 1);
  flat->compile(std::make_unique<SGD>(), SparseCategoricalCrossentropy{true});
  options.augmentation = {0, true};
  expect_one_line_error<UsageError>(
      [&] { Trainer(*flat).fit(random_labeled_images(16, {784}, 10, 1), options); },
      {"fit: augmentation needs images (height, width) or (height, width, channels), the samples "
       "are (784,)"});
}

// fit passes its augmentation to the batch gather: the same model, data and seed train to other weights with shifts
// and with flips than without, and to the same weights again from the same seed.
TEST(Augmentation, FitTrainsOnTheAugmentedImages) {
  const LabeledImages data = random_labeled_images(64, {8, 8, 1}, 10, 5);
  auto fitted = [&](Augmentation augmentation) {
    auto model = std::make_unique<Sequential>();
    model->add<Conv2D>(4, 3, Padding::Same);
    model->add<Flatten>();
    model->add<Dense>(10);
    model->build({8, 8, 1}, Device::CPU, 3);
    model->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{true});
    FitOptions options;
    options.epochs = 2;
    options.batch_size = 16;
    options.verbose = 0;
    options.augmentation = augmentation;
    Trainer(*model).fit(data, options);
    return model->parameters().to_vector();
  };
  const std::vector<float> plain = fitted({0, false});
  EXPECT_NE(fitted({2, false}), plain) << "random shifts";
  EXPECT_NE(fitted({0, true}), plain) << "random flips";
  EXPECT_EQ(fitted({2, true}), fitted({2, true})) << "the draws follow the seed";
}

TEST(BestCnn, SummaryCountsTheMovingStatisticsAsNonTrainable) {
  auto model = make_best_cnn(Device::CPU, 1);
  // Keras: Conv2D 320, 18,496, 73,856; BatchNormalization 4 per channel (128, 256, 512, 1,024); Dense 295,168 and
  // 2,570; the moving mean and variance (2 × 480 channels) are not trainable.
  EXPECT_EQ(model->param_count(), 392330);
  EXPECT_EQ(model->trainable_param_count(), 391370);
  const std::string summary = model->summary();
  for (const char* line :
       {" batch_normalization (BatchN  (None, 28, 28, 32)       128       \n",
        " dropout (Dropout)           (None, 256)               0         \n", "Non-trainable params: 960\n"})
    EXPECT_NE(summary.find(line), std::string::npos) << "missing: " << line << "in\n" << summary;
}

TEST(BestCnn, ArchitectureRoundTripsItsRealSettings) {
  auto model = make_best_cnn(Device::CPU, 1);
  const std::string json = architecture_json(*model);
  for (const char* part : {"\"rate\":0.3", "\"momentum\":0.99", "\"epsilon\":0.001", "\"class_name\":\"Dropout\""})
    EXPECT_NE(json.find(part), std::string::npos) << part << " in " << json;
  auto rebuilt = model_from_architecture(json, Device::CPU);
  EXPECT_EQ(architecture_json(*rebuilt), json);
  EXPECT_EQ(rebuilt->param_count(), model->param_count());
  std::string bad = json;
  bad.replace(bad.find("\"rate\":0.3"), 10, "\"rate\":1.5");
  expect_one_line_error<ArchitectureError>([&] { check_architecture(bad); }, {"architecture: ",
                                                                              "(Dropout) rate must be a number in "
                                                                              "[0, 1), got 1.5"});
  bad = json;
  bad.replace(bad.find("\"epsilon\":0.001"), 15, "\"epsilon\":true");
  expect_one_line_error<ArchitectureError>([&] { check_architecture(bad); },
                                           {"(BatchNormalization) epsilon must be a number in"});
  // A Keras model's epsilon of 1e-6 is loom's too; one that rounds to a float 0 is refused by the layer.
  bad = json;
  bad.replace(bad.find("\"epsilon\":0.001"), 15, "\"epsilon\":1e-6");
  EXPECT_NE(architecture_json(*model_from_architecture(bad, Device::CPU)).find("\"epsilon\":1e-06"), std::string::npos);
  bad.replace(bad.find("\"epsilon\":1e-6"), 14, "\"epsilon\":1e-50");
  expect_one_line_error<ArchitectureError>(
      [&] { check_architecture(bad); },
      {"(BatchNormalization): BatchNormalization: epsilon must be a positive number, got 0"});
}

class BestCnnFiles : public TempDirTest {};

// The weights file holds the moving statistics beside the trained weights, under Keras's names.
TEST_F(BestCnnFiles, SavedWeightsKeepTheMovingStatistics) {
  auto model = make_best_cnn(Device::CPU, 1);
  const Batch batch = random_batch(4, kCnnInputShape, 10, 2, Device::CPU);
  Trainer trainer(*model);
  for (int i = 0; i < 2; ++i) trainer.train_step(batch.x, batch.labels);
  const Parameter& moving = model->parameter_store().find("batch_normalization_3.moving_variance");
  const std::vector<float> trained = model->parameter_store().value(moving).to_vector();
  EXPECT_NE(trained, std::vector<float>(trained.size(), 1.f)) << "training moved the moving variance";
  save_weights(*model, path("best.safetensors"));
  auto loaded = make_best_cnn(Device::CPU, 2);
  load_weights(*loaded, path("best.safetensors"));
  EXPECT_EQ(loaded->parameters().to_vector(), model->parameters().to_vector());
  EXPECT_EQ(predict(*loaded, batch.x).to_vector(), predict(*model, batch.x).to_vector());
}

// Dropout masks and augmentation are keyed by the seed and the step count, which the checkpoint carries: a resumed
// run (even of a model built from another seed) trains exactly as the uninterrupted one.
TEST_F(BestCnnFiles, ResumeDrawsWhatTheUninterruptedRunDraws) {
  auto make = [](uint64_t seed) {
    auto model = std::make_unique<Sequential>();
    model->add<Conv2D>(4, 3, Padding::Same);
    model->add<BatchNormalization>();
    model->add<ReLU>();
    model->add<Flatten>();
    model->add<Dropout>(0.4);
    model->add<Dense>(10);
    model->build({8, 8, 1}, Device::CPU, seed);
    model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
    return model;
  };
  const LabeledImages data = random_labeled_images(96, {8, 8, 1}, 10, 3);
  FitOptions options;
  options.epochs = 4;
  options.batch_size = 16;
  options.verbose = 0;
  options.augmentation = {2, true};
  auto straight = make(1);
  Trainer(*straight).fit(data, options);

  auto first = make(1);
  FitOptions part = options;
  part.epochs = 2;
  CheckpointWriter writer(path("c.safetensors"), {});
  part.callbacks = {&writer};
  Trainer(*first).fit(data, part);
  auto resumed = make(2);
  Trainer resumed_trainer(*resumed);
  ResumePoint point = resume_from_checkpoint(path("c.safetensors"), resumed_trainer, {}, {});
  EXPECT_EQ(resumed->random_seed(), 1u);
  FitOptions rest = options;
  rest.initial_epoch = point.epochs_done;
  rest.shuffle_state = point.shuffle_state;
  resumed_trainer.fit(data, rest);
  EXPECT_EQ(resumed->parameters().to_vector(), straight->parameters().to_vector());

  // Without the seed the draws differ, and so do the weights: the check above could fail.
  auto reseeded = make(1);
  Trainer reseeded_trainer(*reseeded);
  resume_from_checkpoint(path("c.safetensors"), reseeded_trainer, {}, {});
  reseeded->set_random_seed(2);
  reseeded_trainer.fit(data, rest);
  EXPECT_NE(reseeded->parameters().to_vector(), straight->parameters().to_vector());
}

// Training needs the whole batch's statistics, so a batch beyond cuDNN's largest is refused in words, before cuDNN
// is called.
TEST(BatchNormPlan, RefusesToTrainOnBatchesBeyondCudnnsLargest) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  cuda::BatchNormPlan plan({cuda::BatchNormPlan::kMaxTrainingBatch + 1, 1, 2}, "batch_normalization");
  expect_one_line_error<Error>(
      [&] { plan.forward_training(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1e-3); },
      {"layer 'batch_normalization': cuDNN's batch normalization trains on at most 880801 samples a batch, got "
       "880802: use a smaller batch size"});
  expect_one_line_error<Error>(
      [&] { plan.backward(nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, 1e-3); },
      {"trains on at most 880801 samples a batch"});
}

}  // namespace
}  // namespace loom::test
