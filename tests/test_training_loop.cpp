// fit's loop as Keras users rely on it: the callback hooks and their order, the stopping callbacks (a threshold,
// early stopping with restored weights, TerminateOnNaN), learning-rate schedules (and a CUDA graph following them),
// validation (a split or explicit data), misuse errors, and non-trainable parameters. On the CPU reference training
// is deterministic, so most checks compare parameters bit for bit with a same-seed reference trained the plain way.
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/data/device_dataset.h"
#include "engine/layers/activations.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/history_file.h"
#include "engine/training/inference.h"
#include "engine/training/lr_schedules.h"
#include "engine/training/train_step.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

const Shape kImage{8, 8};
constexpr int kClasses = 10;

std::unique_ptr<Sequential> small_model(uint64_t seed, std::unique_ptr<Optimizer> optimizer,
                                        Device device = Device::CPU) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(16, Activation::ReLU);
  model->add<Dense>(kClasses);
  model->build(kImage, device, seed);
  model->compile(std::move(optimizer), SparseCategoricalCrossentropy{true});
  return model;
}

std::unique_ptr<Sequential> adam_model(uint64_t seed, float learning_rate = 1e-2f, Device device = Device::CPU) {
  AdamHyper hyper;
  hyper.learning_rate = learning_rate;
  return small_model(seed, std::make_unique<Adam>(hyper), device);
}

FitOptions quiet(int epochs, int64_t batch_size = 32) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.verbose = 0;
  return options;
}

LabeledImages rows_of(const LabeledImages& data, int64_t begin, int64_t end) {
  return {data.images.rows(begin, end), data.labels.rows(begin, end)};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// Bitwise equality of two parameter vectors, naming the first difference (gtest would print all of both).
::testing::AssertionResult same_values(const std::vector<float>& actual, const std::vector<float>& expected,
                                       const std::string& what) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << what << ": " << actual.size() << " values, expected " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i)
    if (!(actual[i] == expected[i]))
      return ::testing::AssertionFailure()
             << what << ": first difference at " << i << ": " << actual[i] << " vs " << expected[i];
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult same_parameters(Sequential& actual, Sequential& expected, const std::string& what) {
  return same_values(actual.parameters().to_vector(), expected.parameters().to_vector(), what);
}

void expect_same_epoch(const EpochResult& a, const EpochResult& b, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_EQ(a.validated, b.validated);
  EXPECT_EQ(a.val_loss, b.val_loss);
  EXPECT_EQ(a.val_accuracy, b.val_accuracy);
  EXPECT_EQ(a.learning_rate, b.learning_rate);
  EXPECT_EQ(a.seconds, b.seconds);
  EXPECT_EQ(a.graph_steps, b.graph_steps);
}

std::string four_places(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", value);
  return buf;
}

// ---- hooks

class RecordsHooks : public Callback {
 public:
  explicit RecordsHooks(const std::ostringstream* out = nullptr) : out_(out) {}
  void on_train_begin(FitContext& context) override {
    events.push_back("train_begin");
    steps_per_epoch = context.steps_per_epoch;
    validating = context.validating ? 1 : 0;
  }
  void on_train_end(FitContext&, History& history) override {
    events.push_back("train_end");
    history_at_end = history;
  }
  void on_epoch_begin(FitContext&, int epoch) override { events.push_back("epoch_begin " + std::to_string(epoch)); }
  void on_epoch_end(FitContext&, int epoch, EpochResult& logs) override {
    events.push_back("epoch_end " + std::to_string(epoch));
    epoch_logs.push_back(logs);
    if (out_) printed_by_epoch_end.push_back(out_->str());
  }
  void on_batch_begin(FitContext&, int64_t step) override { events.push_back("batch_begin " + std::to_string(step)); }
  void on_batch_end(FitContext&, int64_t step) override { events.push_back("batch_end " + std::to_string(step)); }

  std::vector<std::string> events;
  std::vector<EpochResult> epoch_logs;
  History history_at_end;
  std::vector<std::string> printed_by_epoch_end;
  int64_t steps_per_epoch = -1;
  int validating = -1;  // 0 or 1 once on_train_begin ran

 private:
  const std::ostringstream* out_;
};

std::vector<std::string> keras_order(int epochs, int64_t steps) {
  std::vector<std::string> events{"train_begin"};
  for (int e = 0; e < epochs; ++e) {
    events.push_back("epoch_begin " + std::to_string(e));
    for (int64_t s = 0; s < steps; ++s) {
      events.push_back("batch_begin " + std::to_string(s));
      events.push_back("batch_end " + std::to_string(s));
    }
    events.push_back("epoch_end " + std::to_string(e));
  }
  events.push_back("train_end");
  return events;
}

TEST(TrainingLoop, HooksAreCalledInKerasOrder) {
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 101);
  auto model = adam_model(102);
  std::ostringstream out;
  RecordsHooks hooks(&out);
  FitOptions options = quiet(2);  // 100 = 3·32 + 4: four steps, the last one partial
  options.verbose = 1;
  options.out = &out;
  options.callbacks = {&hooks};
  Trainer trainer(*model);
  History history = trainer.fit(data, options);

  EXPECT_EQ(hooks.steps_per_epoch, 4);
  EXPECT_EQ(hooks.validating, 0);
  EXPECT_EQ(hooks.events, keras_order(2, 4));
  ASSERT_EQ(history.size(), 2u);
  ASSERT_EQ(hooks.epoch_logs.size(), 2u);
  ASSERT_EQ(hooks.history_at_end.size(), 2u);
  for (size_t e = 0; e < history.size(); ++e) {
    expect_same_epoch(hooks.epoch_logs[e], history[e], "on_epoch_end's figures, epoch " + std::to_string(e));
    expect_same_epoch(hooks.history_at_end[e], history[e], "on_train_end's history, epoch " + std::to_string(e));
  }
  // fit's progress bar is the first callback: an epoch's line is out before any user callback sees the epoch end.
  ASSERT_EQ(hooks.printed_by_epoch_end.size(), 2u);
  EXPECT_TRUE(contains(hooks.printed_by_epoch_end[0], "4/4 [")) << hooks.printed_by_epoch_end[0];
  EXPECT_TRUE(contains(hooks.printed_by_epoch_end[0], " - loss: " + four_places(history[0].loss)))
      << hooks.printed_by_epoch_end[0];
  EXPECT_FALSE(contains(hooks.printed_by_epoch_end[0], "Epoch 2/2")) << hooks.printed_by_epoch_end[0];

  // max_steps_per_epoch is what the hooks are told and what they see.
  RecordsHooks capped;
  FitOptions few = quiet(1);
  few.max_steps_per_epoch = 2;
  few.callbacks = {&capped};
  trainer.fit(data, few);
  EXPECT_EQ(capped.steps_per_epoch, 2);
  EXPECT_EQ(capped.events, keras_order(1, 2));
}

// Requests a stop at the beginning of an epoch (a time budget checked between epochs does this) or after a step.
struct RequestsStop : public Callback {
  int at_epoch_begin = -1;
  int64_t after_step = -1;
  void on_epoch_begin(FitContext& context, int epoch) override {
    if (epoch == at_epoch_begin) context.stop_training = true;
  }
  void on_batch_end(FitContext& context, int64_t step) override {
    if (step == after_step) context.stop_training = true;
  }
};

// Keras checks stop_training after a step, so an epoch it reports has trained at least one batch. An epoch of no
// steps would report 0/0 as its loss, which the NaN guard would then take for divergence.
TEST(TrainingLoop, StopRequestedAtEpochBeginReportsNoEmptyEpoch) {
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 111);
  auto model = adam_model(112);
  RequestsStop stop;
  stop.at_epoch_begin = 1;
  FitOptions options = quiet(3);
  options.callbacks = {&stop};
  History history;
  try {
    history = Trainer(*model).fit(data, options);
  } catch (const Error& e) {
    FAIL() << "a stop requested at an epoch's beginning made fit fail: " << e.what();
  }
  ASSERT_GE(history.size(), 1u);
  EXPECT_LE(history.size(), 2u);
  for (size_t e = 0; e < history.size(); ++e)
    EXPECT_TRUE(std::isfinite(history[e].loss)) << "epoch " << e << " reports loss " << history[e].loss;
}

// A stop within an epoch: its line then counts the steps done, and the time per step is theirs.
TEST(TrainingLoop, AnEpochStoppedWithinSaysHowFarItGot) {
  LabeledImages data = random_labeled_images(320, kImage, kClasses, 121);  // 10 steps of 32
  auto model = adam_model(122);
  RequestsStop stop;
  stop.after_step = 2;
  std::ostringstream out;
  FitOptions options = quiet(2);
  options.verbose = 1;
  options.out = &out;
  options.callbacks = {&stop};
  const History history = Trainer(*model).fit(data, options);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_TRUE(contains(out.str(), " 3/10 [=====")) << out.str();
  EXPECT_FALSE(contains(out.str(), "10/10")) << out.str();
  EXPECT_FALSE(contains(out.str(), "ETA")) << "the final line of a stopped epoch has no ETA: " << out.str();
  EXPECT_TRUE(contains(out.str(), " - loss: " + four_places(history[0].loss))) << out.str();
}

// ---- stopping callbacks

TEST(TrainingLoop, StopAtThresholdEndsTrainingAtTheFirstEpochThatReachesIt) {
  LabeledImages data = random_labeled_images(200, kImage, kClasses, 201);
  FitOptions options = quiet(6);
  options.seed = 7;
  auto reference = adam_model(202);
  const History full = Trainer(*reference).fit(data, options);
  ASSERT_EQ(full.size(), 6u);

  // The first epoch k (not the last) whose loss is below every earlier one; a threshold halfway between that loss
  // and the best before it is reached first at epoch k.
  int k = -1;
  double threshold = 0, best = full[0].loss;
  for (int e = 1; e + 1 < static_cast<int>(full.size()); ++e) {
    if (full[e].loss < best) {
      k = e;
      threshold = (best + full[e].loss) / 2;
      break;
    }
  }
  ASSERT_GE(k, 1) << "the reference's loss never fell: no threshold to test";

  auto model = adam_model(202);
  StopAtThreshold stop("loss", threshold);
  std::ostringstream out;
  FitOptions stopping = options;
  stopping.verbose = 1;
  stopping.out = &out;
  stopping.callbacks = {&stop};
  const History history = Trainer(*model).fit(data, stopping);
  ASSERT_EQ(history.size(), static_cast<size_t>(k + 1)) << out.str();
  EXPECT_EQ(stop.stopped_epoch(), k);
  for (int e = 0; e <= k; ++e) EXPECT_EQ(history[e].loss, full[e].loss) << "epoch " << e;

  auto shorter = adam_model(202);
  FitOptions k_plus_one = options;
  k_plus_one.epochs = k + 1;
  Trainer(*shorter).fit(data, k_plus_one);
  EXPECT_TRUE(same_parameters(*model, *shorter, "stopped model vs a reference trained k+1 epochs"));

  EXPECT_TRUE(contains(out.str(), "Epoch " + std::to_string(k + 1) + ": loss " + four_places(history[k].loss) +
                                      " reached " + four_places(threshold) + ", stopping training\n"))
      << out.str();
  EXPECT_FALSE(contains(out.str(), "Epoch " + std::to_string(k + 2) + "/6")) << out.str();

  // Out of reach: every epoch is trained, as without the callback.
  auto unstopped = adam_model(202);
  StopAtThreshold never("loss", 0.0);
  FitOptions never_options = options;
  never_options.callbacks = {&never};
  EXPECT_EQ(Trainer(*unstopped).fit(data, never_options).size(), 6u);
  EXPECT_EQ(never.stopped_epoch(), -1);
  EXPECT_TRUE(same_parameters(*unstopped, *reference, "threshold never reached vs no callback"));
}

TEST(TrainingLoop, EarlyStoppingRestoresTheBestWeights) {
  LabeledImages data = random_labeled_images(200, kImage, kClasses, 301);
  FitOptions options = quiet(5);
  options.seed = 3;

  // Asked to maximise the loss, which falls: the first epoch is the best, the second fails to improve and, with a
  // patience of 1, stops training; the first epoch's weights come back.
  EarlyStopping::Options early;
  early.monitor = "loss";
  early.mode = MonitorMode::Max;
  early.patience = 1;
  early.restore_best_weights = true;
  EarlyStopping stopper(early);
  auto model = adam_model(302);
  std::ostringstream out;
  FitOptions stopping = options;
  stopping.verbose = 1;
  stopping.out = &out;
  stopping.callbacks = {&stopper};
  const History history = Trainer(*model).fit(data, stopping);
  ASSERT_EQ(history.size(), 2u) << out.str();
  ASSERT_LT(history[1].loss, history[0].loss) << "the trick needs a falling loss";
  EXPECT_EQ(stopper.stopped_epoch(), 1);
  EXPECT_EQ(stopper.best_epoch(), 0);
  EXPECT_EQ(stopper.best(), history[0].loss);
  EXPECT_TRUE(contains(out.str(), "Epoch 2: early stopping\n")) << out.str();
  EXPECT_TRUE(contains(out.str(), "Restoring model weights from the end of the best epoch: 1.\n")) << out.str();

  auto one_epoch = adam_model(302);
  FitOptions first = options;
  first.epochs = 1;
  Trainer(*one_epoch).fit(data, first);
  EXPECT_TRUE(same_parameters(*model, *one_epoch, "restored weights vs a reference trained 1 epoch"));

  // A patience longer than the run never stops it; as in Keras 3 the best weights come back all the same.
  early.patience = 10;
  EarlyStopping patient(early);
  auto unstopped = adam_model(302);
  FitOptions three = options;
  three.epochs = 3;
  three.verbose = 1;
  std::ostringstream patient_out;
  three.out = &patient_out;
  three.callbacks = {&patient};
  EXPECT_EQ(Trainer(*unstopped).fit(data, three).size(), 3u);
  EXPECT_EQ(patient.stopped_epoch(), -1);
  EXPECT_EQ(patient.best_epoch(), 0);
  EXPECT_FALSE(contains(patient_out.str(), "early stopping")) << patient_out.str();
  EXPECT_TRUE(contains(patient_out.str(), "Restoring model weights from the end of the best epoch: 1.\n"))
      << patient_out.str();
  EXPECT_TRUE(same_parameters(*unstopped, *one_epoch, "never stopped, best epoch restored"));

  // Without restore_best_weights the last epoch's weights stay.
  early.restore_best_weights = false;
  EarlyStopping keeps(early);
  auto kept = adam_model(302);
  FitOptions keep_options = options;
  keep_options.epochs = 3;
  keep_options.callbacks = {&keeps};
  Trainer(*kept).fit(data, keep_options);
  FitOptions plain = options;
  plain.epochs = 3;
  auto reference = adam_model(302);
  Trainer(*reference).fit(data, plain);
  EXPECT_TRUE(same_parameters(*kept, *reference, "no restore vs plain 3 epochs"));
}

// An SGD step this large sends the parameters to infinity within a few steps.
std::unique_ptr<Sequential> diverging_model(uint64_t seed) { return small_model(seed, std::make_unique<SGD>(1e30f)); }

class CountsBatches : public Callback {
 public:
  void on_batch_end(FitContext&, int64_t) override { ++batches; }
  int64_t batches = 0;
};

TEST(TrainingLoop, TerminateOnNanStopsWithinTheEpochThatDiverged) {
  LabeledImages data = random_labeled_images(200, kImage, kClasses, 801);
  FitOptions options = quiet(3, 10);  // 20 steps an epoch
  options.stop_on_nan = false;

  auto unguarded = diverging_model(802);
  const History diverged = Trainer(*unguarded).fit(data, options);
  ASSERT_EQ(diverged.size(), 3u);
  ASSERT_FALSE(std::isfinite(diverged[0].loss)) << "the learning rate did not make training diverge";

  auto model = diverging_model(802);
  TerminateOnNaN guard;
  CountsBatches counter;  // after the guard: it sees the step that stopped training too
  std::ostringstream out;
  FitOptions guarded = options;
  guarded.verbose = 1;
  guarded.out = &out;
  guarded.callbacks = {&guard, &counter};
  const History history = Trainer(*model).fit(data, guarded);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_TRUE(guard.terminated());
  EXPECT_EQ(guard.terminated_epoch(), 0);
  // The first step's loss comes from the initial weights; the CPU's running totals are exact after every step.
  EXPECT_GE(counter.batches, 2);
  EXPECT_LT(counter.batches, 20);
  EXPECT_TRUE(
      contains(out.str(), "Batch " + std::to_string(counter.batches - 1) + ": Invalid loss, terminating training\n"))
      << out.str();

  // fit's own guard (stop_on_nan, the default) fails instead.
  auto failing = diverging_model(802);
  FitOptions strict = quiet(3, 10);
  try {
    Trainer(*failing).fit(data, strict);
    FAIL() << "expected loom::Error";
  } catch (const UsageError& e) {
    FAIL() << "divergence is no usage error: " << e.what();
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "loss became")) << e.what();
    EXPECT_TRUE(contains(e.what(), "in epoch 1")) << e.what();
  }
}

// Keras callbacks are reusable: a second fit counts its epochs from 0 again.
TEST(TrainingLoop, TerminateOnNanReusedAcrossFitsNamesTheRightEpoch) {
  LabeledImages data = random_labeled_images(200, kImage, kClasses, 811);
  TerminateOnNaN guard;
  FitOptions options = quiet(2, 10);
  options.stop_on_nan = false;
  options.callbacks = {&guard};
  auto healthy = adam_model(812);
  ASSERT_EQ(Trainer(*healthy).fit(data, options).size(), 2u);
  ASSERT_FALSE(guard.terminated());

  auto diverging = diverging_model(813);
  ASSERT_EQ(Trainer(*diverging).fit(data, options).size(), 1u);
  EXPECT_TRUE(guard.terminated());
  EXPECT_EQ(guard.terminated_epoch(), 0) << "the second fit diverged in its first epoch";
}

// ---- the history file

// Reads the history file at every epoch's end, after the logger (callbacks run in the order given).
struct ReadsHistoryFile : public Callback {
  std::string path;
  std::vector<size_t> rows_seen;
  void on_epoch_end(FitContext&, int, EpochResult&) override { rows_seen.push_back(read_history(path).size()); }
};

class HistoryLoggerTest : public TempDirTest {};

TEST_F(HistoryLoggerTest, WritesTheHistorySoFarAfterEveryEpoch) {
  LabeledImages data = random_labeled_images(64, kImage, kClasses, 461);
  auto model = adam_model(462);
  HistoryLogger logger(path("h.json"));
  ReadsHistoryFile reader;
  reader.path = path("h.json");
  FitOptions options = quiet(3);
  options.validation_split = 0.25;
  options.callbacks = {&logger, &reader};
  const History history = Trainer(*model).fit(data, options);
  EXPECT_EQ(reader.rows_seen, (std::vector<size_t>{1, 2, 3}));
  const History saved = read_history(path("h.json"));
  ASSERT_EQ(saved.size(), history.size());
  for (size_t e = 0; e < saved.size(); ++e) {
    EXPECT_EQ(saved[e].loss, history[e].loss) << "epoch " << e;
    EXPECT_EQ(saved[e].val_accuracy, history[e].val_accuracy) << "epoch " << e;
    EXPECT_EQ(saved[e].learning_rate, history[e].learning_rate) << "epoch " << e;
  }
  EXPECT_THROW(HistoryLogger(path("h.txt")), UsageError);
  EXPECT_THROW(HistoryLogger(path("missing/h.csv")), UsageError);
}

// ---- a data set uploaded once

// The uploaded data set keeps its shuffle generator between fits, so training can continue where it stopped: two
// fits of one epoch are one fit of two (the shuffles included), and another seed would have shuffled otherwise.
TEST(TrainingLoop, AnUploadedDataSetContinuesItsShuffleAcrossFits) {
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 451);
  auto at_once = adam_model(452), in_two = adam_model(452), other_seed = adam_model(452);
  DeviceDataset whole(data, kImage, Device::CPU, 7), resumed(data, kImage, Device::CPU, 7),
      reshuffled(data, kImage, Device::CPU, 8);
  Trainer at_once_trainer(*at_once), in_two_trainer(*in_two);
  const History two = at_once_trainer.fit(whole, quiet(2));
  const History first = in_two_trainer.fit(resumed, quiet(1)), second = in_two_trainer.fit(resumed, quiet(1));
  EXPECT_TRUE(same_parameters(*in_two, *at_once, "1 + 1 epochs on one uploaded data set vs 2 at once"));
  EXPECT_EQ(second.at(0).loss, two.at(1).loss);
  Trainer(*other_seed).fit(reshuffled, quiet(2));
  EXPECT_FALSE(same_parameters(*other_seed, *at_once, "another shuffle seed")) << "the shuffle changed nothing";

  FitOptions split = quiet(1);
  split.validation_split = 0.2;
  EXPECT_THROW(at_once_trainer.fit(whole, split), UsageError) << "an uploaded set cannot be split";
  LabeledImages small = random_labeled_images(10, {4, 4}, kClasses, 453);  // read in place on the CPU: kept alive
  DeviceDataset wrong_shape(small, {4, 4}, Device::CPU, 0);
  EXPECT_THROW(at_once_trainer.fit(wrong_shape, quiet(1)), UsageError);
}

// ---- the Trainer

// A model compiled again starts its training anew: the Trainer's next use makes a fresh step state (the new
// optimizer's rate, no steps, no graph) and trains as a new Trainer would, from the weights the model has.
TEST(TrainingLoop, TheTrainerStartsAfreshWhenTheModelIsCompiledAgain) {
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 471);
  auto model = adam_model(472), twin = adam_model(472);
  Trainer trainer(*model);
  trainer.fit(data, quiet(1));
  trainer.set_learning_rate(0.5f);
  EXPECT_EQ(trainer.step().state().steps_done(), 4);  // 100 = 3·32 + 4
  Trainer(*twin).fit(data, quiet(1));
  ASSERT_TRUE(same_parameters(*model, *twin, "one epoch each"));

  model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  EXPECT_EQ(trainer.learning_rate(), 1e-3f) << "the recompiled model's optimizer sets the rate";
  EXPECT_EQ(trainer.graph_captures(), 0);
  EXPECT_EQ(trainer.step().state().steps_done(), 0);
  twin->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  const History again = trainer.fit(data, quiet(1));
  const History fresh = Trainer(*twin).fit(data, quiet(1));
  EXPECT_EQ(again.at(0).learning_rate, static_cast<double>(1e-3f));
  EXPECT_EQ(again.at(0).loss, fresh.at(0).loss);
  EXPECT_TRUE(same_parameters(*model, *twin, "the old Trainer after compile vs a new one"));
}

// A second Trainer of a model another has trained goes on from the optimizer's step count: its checkpoints hold
// steps done and optimizer steps that agree, and its dropout masks are not the first Trainer's again.
TEST(TrainingLoop, ASecondTrainerGoesOnFromTheOptimizersStepCount) {
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 473);
  auto model = adam_model(474);
  {
    Trainer first(*model);
    first.fit(data, quiet(1));
    EXPECT_EQ(first.step().state().steps_done(), 4);
  }
  Trainer second(*model);
  EXPECT_EQ(second.step().state().steps_done(), 4);
  EXPECT_EQ(model->optimizer().steps_taken(), 4);
  second.fit(data, quiet(1));
  EXPECT_EQ(second.step().state().steps_done(), 8);
  EXPECT_EQ(model->optimizer().steps_taken(), 8);
}

// ---- learning-rate schedules

TEST(TrainingLoop, LearningRateScheduleChangesTheUpdate) {
  LabeledImages data = random_labeled_images(150, kImage, kClasses, 401);
  // Without shuffling one fit of two epochs and two fits of one see the same batches (each fit draws its order from
  // options.seed afresh); Adam's moments and step count carry over between fits of one Trainer.
  FitOptions options = quiet(2);
  options.shuffle = false;

  auto scheduled = adam_model(402);
  LearningRateScheduler halve_at_1([](int epoch, double rate) { return epoch == 1 ? rate / 2 : rate; });
  FitOptions with_schedule = options;
  with_schedule.callbacks = {&halve_at_1};
  Trainer scheduled_trainer(*scheduled);
  const History history = scheduled_trainer.fit(data, with_schedule);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].learning_rate, static_cast<double>(1e-2f));
  EXPECT_EQ(history[1].learning_rate, static_cast<double>(1e-2f / 2));
  EXPECT_EQ(scheduled_trainer.learning_rate(), 1e-2f / 2);

  auto by_hand = adam_model(402);
  Trainer by_hand_trainer(*by_hand);
  FitOptions one = options;
  one.epochs = 1;
  by_hand_trainer.fit(data, one);
  by_hand_trainer.set_learning_rate(by_hand_trainer.learning_rate() / 2);
  const History second = by_hand_trainer.fit(data, one);
  EXPECT_EQ(second[0].learning_rate, history[1].learning_rate);
  EXPECT_EQ(second[0].loss, history[1].loss);
  EXPECT_TRUE(same_parameters(*scheduled, *by_hand, "schedule vs set_learning_rate between fits"));

  auto unscheduled = adam_model(402);
  Trainer(*unscheduled).fit(data, options);
  EXPECT_FALSE(same_parameters(*scheduled, *unscheduled, "schedule vs none")) << "the schedule changed nothing";
}

// A captured graph reads the rate from the device: after a schedule's change, replays must use the new rate.
TEST(TrainingLoop, CudaGraphFollowsALearningRateSchedule) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 411);  // 3 full batches and one of 4
  int64_t captures = 0;
  auto run = [&](bool graph, History& history) {
    auto model = adam_model(412, 1e-2f, Device::CUDA);
    Trainer trainer(*model);
    LearningRateScheduler schedule(step_decay(1e-2, 0.5, 1));
    FitOptions options = quiet(3);
    options.cuda_graph = graph;
    options.callbacks = {&schedule};
    history = trainer.fit(data, options);
    captures = trainer.graph_captures();
    return model;
  };
  History eager_history, graph_history;
  auto eager = run(false, eager_history);
  auto graphed = run(true, graph_history);
  ASSERT_EQ(graph_history.size(), 3u);
  for (size_t e = 0; e < graph_history.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e));
    const double rate = static_cast<float>(1e-2 * std::pow(0.5, static_cast<double>(e)));
    EXPECT_EQ(graph_history[e].learning_rate, rate);
    EXPECT_EQ(eager_history[e].learning_rate, rate);
    EXPECT_GT(graph_history[e].graph_steps, 0) << "the graph was not replayed";
    EXPECT_EQ(eager_history[e].graph_steps, 0);
    EXPECT_NEAR(graph_history[e].loss, eager_history[e].loss, 1e-5);
  }
  EXPECT_TRUE(all_close(graphed->parameters().to_vector(), to_double(eager->parameters().to_vector()), 1e-6, 1e-5,
                        "parameters after a halving schedule, graph vs ordinary launches"));
  // One capture for the whole run: the new rates reached the same graph, not a recaptured one.
  EXPECT_EQ(captures, 1);
}

TEST(Schedule, StepAndCosineDecayFollowTheirFormulas) {
  auto step = step_decay(0.1, 0.5, 2);
  EXPECT_DOUBLE_EQ(step(0, 123.0), 0.1);  // the current rate is ignored
  EXPECT_DOUBLE_EQ(step(1, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(step(2, 0.0), 0.05);
  EXPECT_DOUBLE_EQ(step(3, 0.0), 0.05);
  EXPECT_DOUBLE_EQ(step(5, 0.0), 0.025);
  EXPECT_DOUBLE_EQ(step(6, 0.0), 0.0125);

  auto cosine = cosine_decay(0.1, 4);
  EXPECT_DOUBLE_EQ(cosine(0, 0.0), 0.1);
  EXPECT_DOUBLE_EQ(cosine(1, 0.0), 0.1 * 0.5 * (1 + std::cos(M_PI / 4)));
  EXPECT_NEAR(cosine(2, 0.0), 0.05, 1e-15);
  EXPECT_DOUBLE_EQ(cosine(3, 0.0), 0.1 * 0.5 * (1 + std::cos(3 * M_PI / 4)));
  EXPECT_NEAR(cosine(4, 0.0), 0.0, 1e-15);
  EXPECT_NEAR(cosine(9, 0.0), 0.0, 1e-15);  // held at the end
  auto floored = cosine_decay(0.1, 4, 0.2);
  EXPECT_DOUBLE_EQ(floored(0, 0.0), 0.1);
  EXPECT_NEAR(floored(2, 0.0), 0.1 * (0.2 + 0.8 * 0.5), 1e-15);
  EXPECT_NEAR(floored(4, 0.0), 0.02, 1e-15);

  EXPECT_THROW(step_decay(0.1, 0.0, 1), UsageError);
  EXPECT_THROW(step_decay(0.1, 1.5, 1), UsageError);
  EXPECT_THROW(step_decay(0.1, 0.5, 0), UsageError);
  EXPECT_THROW(cosine_decay(0.1, 0), UsageError);
  EXPECT_THROW(cosine_decay(0.1, 4, 1.0), UsageError);

  // In a fit, each epoch's rate is the schedule's, rounded to the float the step state holds.
  LabeledImages data = random_labeled_images(64, kImage, kClasses, 501);
  auto model = adam_model(502);
  LearningRateScheduler schedule(step_decay(0.01, 0.5, 1));
  FitOptions options = quiet(3);
  options.callbacks = {&schedule};
  const History history = Trainer(*model).fit(data, options);
  ASSERT_EQ(history.size(), 3u);
  EXPECT_EQ(history[0].learning_rate, static_cast<double>(static_cast<float>(0.01)));
  EXPECT_EQ(history[1].learning_rate, static_cast<double>(static_cast<float>(0.005)));
  EXPECT_EQ(history[2].learning_rate, static_cast<double>(static_cast<float>(0.0025)));
}

History fit_with_plateau(uint64_t seed, const LabeledImages& data, int epochs, int cooldown, std::string& printed,
                         double min_rate = 0) {
  auto model = adam_model(seed);
  // Maximising a falling loss: nothing improves after the first epoch.
  ReduceLROnPlateau::Options plateau;
  plateau.monitor = "loss";
  plateau.mode = MonitorMode::Max;
  plateau.patience = 1;
  plateau.factor = 0.5;
  plateau.cooldown = cooldown;
  plateau.min_rate = min_rate;
  ReduceLROnPlateau reduce(plateau);
  std::ostringstream out;
  FitOptions options = quiet(epochs);
  options.verbose = 1;
  options.out = &out;
  options.callbacks = {&reduce};
  History history = Trainer(*model).fit(data, options);
  printed = out.str();
  for (size_t e = 1; e < history.size(); ++e)
    EXPECT_LT(history[e].loss, history[0].loss) << "the trick needs a loss below the first epoch's, epoch " << e;
  return history;
}

std::vector<double> learning_rates(const History& history) {
  std::vector<double> rates;
  for (const EpochResult& e : history) rates.push_back(e.learning_rate);
  return rates;
}

TEST(Schedule, ReduceLROnPlateauHalvesTheRateAsKerasWould) {
  LabeledImages data = random_labeled_images(128, kImage, kClasses, 511);
  const double r = 1e-2f, r2 = 1e-2f / 2, r4 = 1e-2f / 4, r8 = 1e-2f / 8;
  std::string printed;
  // Patience 1, no cooldown: every epoch after the first fails to improve and halves the rate for the next.
  const History history = fit_with_plateau(512, data, 5, 0, printed);
  EXPECT_EQ(learning_rates(history), (std::vector<double>{r, r, r2, r4, r8}));
  EXPECT_TRUE(contains(printed, "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.005.\n")) << printed;
  EXPECT_TRUE(contains(printed, "Epoch 4: ReduceLROnPlateau reducing learning rate to 0.00125.\n")) << printed;
  EXPECT_FALSE(contains(printed, "Epoch 1: ReduceLROnPlateau")) << printed;

  // Cooldown 2: after a reduction Keras spends the next epoch cooling down, and counts again from the one after.
  const History cooled = fit_with_plateau(512, data, 6, 2, printed);
  EXPECT_EQ(learning_rates(cooled), (std::vector<double>{r, r, r2, r2, r4, r4}));
  EXPECT_TRUE(contains(printed, "Epoch 4: ReduceLROnPlateau reducing learning rate to 0.0025.\n")) << printed;
  EXPECT_FALSE(contains(printed, "Epoch 3: ReduceLROnPlateau")) << printed;

  // A floor between two floats (1e-2/3 is no float) is reached once, and then the rate stays: no "reducing" to the
  // same rate every epoch.
  const History floored = fit_with_plateau(512, data, 5, 0, printed, 1e-2 / 3);
  const double floor = static_cast<float>(1e-2 / 3);
  EXPECT_EQ(learning_rates(floored), (std::vector<double>{r, r, r2, floor, floor}));
  EXPECT_EQ(count_of(printed, "ReduceLROnPlateau reducing"), 2u) << printed;
}

// ---- validation

History fit_epoch_by_epoch(Sequential& model, const LabeledImages& data, FitOptions options, int epochs,
                           const std::function<void(const EpochResult&)>& after_each = {}) {
  options.epochs = 1;
  Trainer trainer(model);
  History history;
  for (int e = 0; e < epochs; ++e) {
    history.push_back(trainer.fit(data, options).at(0));
    if (after_each) after_each(history.back());
  }
  return history;
}

TEST(Validation, SplitHoldsOutTheLastRowsAndReportsWhatEvaluateSays) {
  LabeledImages data = random_labeled_images(200, kImage, kClasses, 601);
  const LabeledImages first150 = rows_of(data, 0, 150), last50 = rows_of(data, 150, 200);
  FitOptions options = quiet(1);
  options.seed = 5;

  // One epoch per fit, so evaluate can look at the weights each epoch's validation saw.
  auto split = adam_model(602);
  FitOptions with_split = options;
  with_split.validation_split = 0.25;
  RecordsHooks hooks;
  with_split.callbacks = {&hooks};
  const History split_history = fit_epoch_by_epoch(*split, data, with_split, 2, [&](const EpochResult& epoch) {
    EXPECT_TRUE(epoch.validated);
    Evaluation held_out = evaluate(*split, last50, options.batch_size);
    EXPECT_EQ(epoch.val_loss, held_out.loss);
    EXPECT_EQ(epoch.val_accuracy, held_out.accuracy);
  });
  EXPECT_EQ(hooks.validating, 1);
  EXPECT_NE(split_history[0].val_loss, split_history[1].val_loss) << "validation did not follow the training";

  // The training part is the first 150 rows, and validating does not disturb training.
  auto plain = adam_model(602);
  const History plain_history = fit_epoch_by_epoch(*plain, first150, options, 2);
  EXPECT_TRUE(same_parameters(*split, *plain, "split run vs the first 150 rows without validation"));
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_FALSE(plain_history[e].validated);
    EXPECT_EQ(split_history[e].loss, plain_history[e].loss) << "epoch " << e;
    EXPECT_EQ(split_history[e].accuracy, plain_history[e].accuracy) << "epoch " << e;
  }

  // Explicit validation data: the same as the split.
  auto explicit_data = adam_model(602);
  FitOptions with_data = options;
  with_data.validation_data = &last50;
  with_data.validation_split = 0.5;  // ignored when validation data is given
  const History data_history = fit_epoch_by_epoch(*explicit_data, first150, with_data, 2);
  EXPECT_TRUE(same_parameters(*explicit_data, *split, "validation_data vs validation_split"));
  for (size_t e = 0; e < 2; ++e) {
    EXPECT_EQ(data_history[e].val_loss, split_history[e].val_loss) << "epoch " << e;
    EXPECT_EQ(data_history[e].val_accuracy, split_history[e].val_accuracy) << "epoch " << e;
  }

  // Keras's epoch line carries the validation figures.
  auto verbose = adam_model(602);
  std::ostringstream out;
  FitOptions printing = with_split;
  printing.callbacks.clear();
  printing.verbose = 1;
  printing.out = &out;
  const History printed = Trainer(*verbose).fit(data, printing);
  EXPECT_TRUE(contains(out.str(), " - loss: " + four_places(printed[0].loss) +
                                      " - accuracy: " + four_places(printed[0].accuracy) +
                                      " - val_loss: " + four_places(printed[0].val_loss) +
                                      " - val_accuracy: " + four_places(printed[0].val_accuracy) + "\n"))
      << out.str();
}

TEST(Validation, DataDoesNotDisturbTraining) {
  LabeledImages data = random_labeled_images(120, kImage, kClasses, 611);
  const LabeledImages held_out = random_labeled_images(70, kImage, kClasses, 612);  // 70 = 2·32 + 6
  FitOptions options = quiet(3);
  options.seed = 9;
  auto plain = adam_model(613), validated = adam_model(613);
  const History plain_history = Trainer(*plain).fit(data, options);
  FitOptions with_data = options;
  with_data.validation_data = &held_out;
  const History validated_history = Trainer(*validated).fit(data, with_data);
  EXPECT_TRUE(same_parameters(*validated, *plain, "with vs without validation data"));
  ASSERT_EQ(validated_history.size(), 3u);
  for (size_t e = 0; e < 3; ++e) {
    EXPECT_EQ(validated_history[e].loss, plain_history[e].loss) << "epoch " << e;
    EXPECT_TRUE(validated_history[e].validated);
    EXPECT_TRUE(std::isfinite(validated_history[e].val_loss));
  }
  Evaluation last = evaluate(*validated, held_out, options.batch_size);
  EXPECT_EQ(validated_history.back().val_loss, last.loss);
  EXPECT_EQ(validated_history.back().val_accuracy, last.accuracy);
}

// The validation pass between epochs runs with its own cursor and totals and allocates nothing, so the training
// step captured in epoch 1 is replayed in every later epoch, and the figures match evaluate's.
TEST(Validation, CudaGraphOutlivesTheValidationPasses) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  LabeledImages data = random_labeled_images(160, kImage, kClasses, 631);
  const LabeledImages held_out = random_labeled_images(70, kImage, kClasses, 632);
  auto model = adam_model(633, 1e-2f, Device::CUDA);
  FitOptions options = quiet(3);
  options.validation_data = &held_out;
  Trainer trainer(*model);
  const History history = trainer.fit(data, options);
  ASSERT_EQ(history.size(), 3u);
  for (size_t e = 0; e < history.size(); ++e) {
    EXPECT_TRUE(history[e].validated) << "epoch " << e;
    EXPECT_EQ(history[e].graph_steps, e == 0 ? 4 : 5) << "epoch " << e << " (5 full batches; the first is warm-up)";
  }
  EXPECT_EQ(trainer.graph_captures(), 1);
  Evaluation last = evaluate(*model, held_out, options.batch_size);
  EXPECT_NEAR(history.back().val_loss, last.loss, 1e-6);
  EXPECT_NEAR(history.back().val_accuracy, last.accuracy, 1e-9);
}

// Keras floors the training part: 10 · (1 − 0.001) = 9.99 leaves 9 to train on and 1 to validate on.
TEST(Validation, SplitRoundsTheTrainingPartDownAsKerasDoes) {
  LabeledImages data = random_labeled_images(10, kImage, kClasses, 621);
  auto model = adam_model(622);
  RecordsHooks hooks;
  FitOptions options = quiet(1, 4);
  options.validation_split = 0.001;
  options.callbacks = {&hooks};
  const History history = Trainer(*model).fit(data, options);
  EXPECT_EQ(hooks.steps_per_epoch, 3);  // 9 = 2·4 + 1
  ASSERT_TRUE(history[0].validated);
  Evaluation last = evaluate(*model, rows_of(data, 9, 10), 4);
  EXPECT_EQ(history[0].val_loss, last.loss);
  EXPECT_EQ(history[0].val_accuracy, last.accuracy);
}

// ---- misuse

template <class F>
void expect_usage_error(F&& f, const std::vector<std::string>& words, const std::string& what) {
  SCOPED_TRACE(what);
  try {
    f();
    ADD_FAILURE() << "expected a UsageError";
  } catch (const UsageError& e) {
    for (const std::string& w : words) EXPECT_TRUE(contains(e.what(), w)) << "no '" << w << "' in: " << e.what();
  }
}

TEST(Validation, BadOptionsAreUsageErrors) {
  LabeledImages data = random_labeled_images(10, kImage, kClasses, 701);
  auto model = adam_model(702);
  const std::vector<float> initial = model->parameters().to_vector();
  Trainer trainer(*model);
  auto fit_with = [&](FitOptions options) {
    options.verbose = 0;
    trainer.fit(data, options);
  };
  for (double split : {1.0, -0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    FitOptions options;
    options.validation_split = split;
    expect_usage_error([&] { fit_with(options); }, {"validation_split"}, "split " + std::to_string(split));
  }
  {
    FitOptions options;
    options.validation_split = 0.95;  // 10 · 0.05 = 0.5: nothing to train on
    expect_usage_error([&] { fit_with(options); }, {"validation_split", "none to train on"}, "split 0.95 of 10");
  }
  {
    FitOptions options;
    options.validation_split = 1e-17;  // 1 − 1e-17 is 1 in a double: nothing held out
    expect_usage_error([&] { fit_with(options); }, {"validation_split", "none to validate on"}, "split 1e-17 of 10");
  }
  {
    LabeledImages wrong = random_labeled_images(4, {4, 4}, kClasses, 703);
    FitOptions options;
    options.validation_data = &wrong;
    expect_usage_error([&] { fit_with(options); }, {"validation data", "(4, 4)"}, "validation data of another shape");
  }

  EarlyStopping::Options early;  // monitors val_loss by default
  EarlyStopping stopper(early);
  ReduceLROnPlateau reduce(ReduceLROnPlateau::Options{});
  StopAtThreshold threshold("val_accuracy", 0.9);
  const std::vector<std::pair<Callback*, std::string>> needs_validation{
      {&stopper, "EarlyStopping"}, {&reduce, "ReduceLROnPlateau"}, {&threshold, "StopAtThreshold"}};
  for (const auto& entry : needs_validation) {
    FitOptions options;
    options.callbacks = {entry.first};
    expect_usage_error([&] { fit_with(options); }, {entry.second, "val_", "validation"},
                       entry.second + " without validation data");
  }
  early.monitor = "foo";
  EarlyStopping unknown(early);
  StopAtThreshold unknown_threshold("foo", 1.0);
  for (Callback* callback : std::vector<Callback*>{&unknown, &unknown_threshold}) {
    FitOptions options;
    options.callbacks = {callback};
    expect_usage_error([&] { fit_with(options); }, {"'foo'"}, "monitor 'foo'");
  }
  EXPECT_THROW(monitored_value(EpochResult{}, "foo"), UsageError);
  EXPECT_TRUE(same_values(model->parameters().to_vector(), initial, "parameters after refused fits"))
      << "a refused fit trained";

  // With validation data the same callbacks are accepted and see the held-out figures.
  FitOptions options = quiet(2, 4);
  options.validation_split = 0.5;
  options.callbacks = {&stopper};
  const History history = trainer.fit(data, options);
  ASSERT_GE(history.size(), 1u);
  EXPECT_EQ(stopper.best(), std::min(history[0].val_loss, history.back().val_loss));
}

// ---- non-trainable parameters

// Passes its input through. Declares a non-trainable parameter before a trainable one, and writes a gradient into
// both, so an optimizer that reached the non-trainable one would move it.
class AddsState : public Layer {
 public:
  std::string type() const override { return "AddsState"; }
  std::string default_name() const override { return "adds_state"; }
  Shape build(const Shape& input) override { return input; }
  std::vector<ParamSpec> param_specs() const override {
    ParamSpec state;
    state.name = "state";
    state.shape = {5};
    state.init = Init::Ones;
    state.trainable = false;
    ParamSpec weight;
    weight.name = "weight";
    weight.shape = {3};
    return {state, weight};
  }
  void bind_params(std::vector<Tensor> params, std::vector<Tensor> grads) override {
    params_ = std::move(params);
    grads_ = std::move(grads);
  }
  void forward(const Tensor& x, Tensor& y, bool) override { y.copy_from(x); }
  void backward(const Tensor&, const Tensor&, Tensor& dy, Tensor* dx) override {
    for (Tensor& g : grads_) g.fill(1.f);
    if (dx) dx->copy_from(dy);
  }
  std::vector<Tensor> params_, grads_;
};

TEST(TrainingLoop, NonTrainableParametersAreCountedLaidOutLastAndLeftAlone) {
  Sequential model;
  model.add<Flatten>();
  model.add<Dense>(16, Activation::ReLU);
  auto& layer = model.add<AddsState>();
  model.add<Dense>(kClasses);
  model.build(kImage, Device::CPU, 901);
  AdamHyper hyper;
  hyper.learning_rate = 1e-2f;
  model.compile(std::make_unique<Adam>(hyper), SparseCategoricalCrossentropy{true});

  const int64_t dense = 64 * 16 + 16, dense_1 = 16 * 10 + 10;
  EXPECT_EQ(model.param_count(), dense + 8 + dense_1);
  EXPECT_EQ(model.trainable_param_count(), dense + 3 + dense_1);
  const std::string summary = model.summary();
  EXPECT_TRUE(contains(summary, " adds_state (AddsState)      (None, 16)                8         \n")) << summary;
  EXPECT_TRUE(contains(summary, "Total params: 1,218\n")) << summary;
  EXPECT_TRUE(contains(summary, "Trainable params: 1,213\n")) << summary;
  EXPECT_TRUE(contains(summary, "Non-trainable params: 5\n")) << summary;

  ParameterStore& store = model.parameter_store();
  std::vector<std::string> names;
  for (const Parameter& p : store.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense.kernel", "dense.bias", "adds_state.state", "adds_state.weight",
                                             "dense_1.kernel", "dense_1.bias"}));
  const Parameter& state = store.find("adds_state.state");
  const Parameter& weight = store.find("adds_state.weight");
  EXPECT_FALSE(state.trainable);
  EXPECT_TRUE(weight.trainable);
  // Trainable ones first, in declaration order, each on 256 bytes; the optimizer's prefix ends before the state.
  int64_t end = 0;
  for (const Parameter& p : store.parameters()) {
    EXPECT_EQ(p.offset % 64, 0) << p.name;
    if (!p.trainable) continue;
    EXPECT_GE(p.offset, end) << p.name;
    end = p.offset + shape_numel(p.shape);
  }
  EXPECT_GE(state.offset, end);
  EXPECT_EQ(store.trainable_values().numel(), end);
  EXPECT_EQ(layer.params_.at(0).raw(), store.value(state).raw()) << "the layer's view is not the store's";
  EXPECT_EQ(store.value(state).to_vector(), std::vector<float>(5, 1.f));

  const std::vector<float> before = model.parameters().to_vector();
  LabeledImages data = random_labeled_images(100, kImage, kClasses, 902);
  Trainer(model).fit(data, quiet(2));
  EXPECT_EQ(store.value(state).to_vector(), std::vector<float>(5, 1.f)) << "a non-trainable parameter moved";
  EXPECT_EQ(store.gradient(state).to_vector(), std::vector<float>(5, 1.f)) << "the layer's gradient was not kept";
  for (float w : store.value(weight).to_vector()) EXPECT_LT(w, 0.f) << "a trainable parameter did not move";
  const Parameter& kernel = store.find("dense_1.kernel");
  EXPECT_FALSE(same_values(
      store.value(kernel).to_vector(),
      std::vector<float>(before.begin() + kernel.offset, before.begin() + kernel.offset + shape_numel(kernel.shape)),
      "dense_1.kernel"))
      << "training did not move the output kernel";
}

}  // namespace
}  // namespace loom::test
