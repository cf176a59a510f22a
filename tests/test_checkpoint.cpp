// Checkpoints (engine/training/checkpoint.h): a run resumed from the end of epoch k and trained to epoch n ends with
// parameters, optimizer state, learning rate and history bit-identical to a run trained to n in one go (with a
// validation split, EarlyStopping restoring its best weights and ReduceLROnPlateau changing the rate across the
// resume); resuming is refused, naming the reason, for another architecture, other settings, other callbacks, a
// weights file or a stopped run; a damaged training state is one error naming the file.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/io/safetensors.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/model/model_file.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/checkpoint.h"
#include "engine/training/lr_schedules.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

using nlohmann::json;

std::unique_ptr<Sequential> mlp(uint64_t seed, Device device, int64_t hidden = 16) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(hidden, Activation::ReLU);
  model->add<Dense>(10);
  model->build({8, 8}, device, seed);
  AdamHyper hyper;
  hyper.learning_rate = 2e-2f;  // large enough that the plateau schedule and early stopping act within a few epochs
  model->compile(std::make_unique<Adam>(hyper), SparseCategoricalCrossentropy{true});
  return model;
}

// The callbacks of one run, made afresh for each (a resumed run builds its own, as an app does).
struct RunCallbacks {
  EarlyStopping early{[] {
    EarlyStopping::Options o;
    o.monitor = "val_loss";
    o.patience = 10;  // never stops these runs, so both train every epoch; the best weights come back at the end
    o.restore_best_weights = true;
    return o;
  }()};
  ReduceLROnPlateau plateau{[] {
    ReduceLROnPlateau::Options o;
    o.monitor = "val_loss";
    o.patience = 1;
    o.factor = 0.5;
    o.min_delta = 0;
    return o;
  }()};
  std::vector<Callback*> list() { return {&early, &plateau}; }
};

FitOptions options_for(int epochs) {
  FitOptions options;
  options.epochs = epochs;
  options.batch_size = 16;
  options.verbose = 0;
  options.seed = 11;
  options.validation_split = 0.25;
  return options;
}

template <class Tag>
class Resume : public DeviceTest<Tag> {
 protected:
  void SetUp() override {
    DeviceTest<Tag>::SetUp();
    char folder[] = "/tmp/loom_checkpoint_XXXXXX";
    ASSERT_NE(mkdtemp(folder), nullptr);
    dir_ = folder;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  std::string dir_;
};
TYPED_TEST_SUITE(Resume, AllDevices, DeviceNames);

// On the CPU bit-identity is guaranteed. On the GPU this MLP's kernels are deterministic too (cuBLAS, and bias
// gradients without atomics at this batch size), so the parameters must match bit for bit there as well; the loss
// totals are summed with atomics in varying order, so the figures may differ in their last bits (docs/CHECKPOINTS.md).
TYPED_TEST(Resume, FromAnEpochIsBitIdenticalToTrainingInOneGo) {
  const Device device = TypeParam::device;
  const LabeledImages data = random_labeled_images(160, {8, 8}, 10, 5);
  constexpr int kEpochs = 6, kStop = 3;

  auto straight = mlp(1, device);
  RunCallbacks straight_callbacks;
  FitOptions all = options_for(kEpochs);
  all.callbacks = straight_callbacks.list();
  const History expected = straight->fit(data, all);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kEpochs)) << "early stopping ended the reference run; retune";
  ASSERT_LT(expected.back().learning_rate, expected.front().learning_rate) << "the plateau schedule never acted";

  auto first = mlp(1, device);
  RunCallbacks first_callbacks;
  CheckpointWriter writer(this->path("c.safetensors"), {{"--batch-size", "16"}});
  FitOptions part = options_for(kStop);
  part.callbacks = first_callbacks.list();
  part.callbacks.push_back(&writer);
  first->fit(data, part);

  auto resumed = mlp(2, device);  // another initialisation: everything must come from the checkpoint
  RunCallbacks resumed_callbacks;
  ResumePoint point = resume_from_checkpoint(this->path("c.safetensors"), *resumed, resumed_callbacks.list(),
                                             {{"--batch-size", "16"}});
  ASSERT_EQ(point.epochs_done, kStop);
  FitOptions rest = options_for(kEpochs);
  rest.initial_epoch = point.epochs_done;
  rest.shuffle_state = point.shuffle_state;
  rest.callbacks = resumed_callbacks.list();
  CheckpointWriter rest_writer(this->path("c.safetensors"), {{"--batch-size", "16"}}, point.history);
  rest.callbacks.push_back(&rest_writer);
  History later = resumed->fit(data, rest);

  History joined = point.history;
  joined.insert(joined.end(), later.begin(), later.end());
  ASSERT_EQ(joined.size(), expected.size());
  for (size_t e = 0; e < expected.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    if (device == Device::CPU) {
      EXPECT_EQ(joined[e].loss, expected[e].loss);
      EXPECT_EQ(joined[e].val_loss, expected[e].val_loss);
    } else {
      EXPECT_NEAR(joined[e].loss, expected[e].loss, 1e-6 * expected[e].loss);
      EXPECT_NEAR(joined[e].val_loss, expected[e].val_loss, 1e-6 * expected[e].val_loss);
    }
    EXPECT_EQ(joined[e].learning_rate, expected[e].learning_rate);
  }
  EXPECT_EQ(resumed->parameters().to_vector(), straight->parameters().to_vector());
  EXPECT_EQ(resumed->optimizer().steps_taken(), straight->optimizer().steps_taken());
  for (size_t k = 0; k < straight->optimizer().parameter_state().size(); ++k)
    EXPECT_EQ(resumed->optimizer().parameter_state()[k].second->to_vector(),
              straight->optimizer().parameter_state()[k].second->to_vector());
  EXPECT_EQ(resumed->learning_rate(), straight->learning_rate());
  EXPECT_EQ(resumed_callbacks.early.best_epoch(), straight_callbacks.early.best_epoch());

  // The checkpoint written after the last epoch holds the whole history.
  SafetensorsFile file = SafetensorsFile::read(this->path("c.safetensors"));
  json training = json::parse(file.metadata("training"));
  EXPECT_EQ(training["epochs_done"], kEpochs);
  EXPECT_EQ(training["history"]["loss"].size(), static_cast<size_t>(kEpochs));
  EXPECT_NEAR(training["history"]["loss"].back().get<double>(), expected.back().loss,
              device == Device::CPU ? 0.0 : 1e-6 * expected.back().loss);
}

// A learning-rate schedule is a function of the epoch: the resumed run's epochs are numbered as the original's, so a
// cosine over the whole run goes on where it stood.
TEST(ResumeSchedule, CosineGoesOnWhereItStood) {
  const LabeledImages data = random_labeled_images(96, {8, 8}, 10, 6);
  char folder[] = "/tmp/loom_cosine_XXXXXX";
  ASSERT_NE(mkdtemp(folder), nullptr);
  const std::string file = std::string(folder) + "/c.safetensors";
  auto run = [&](Sequential& model, int from, int to, std::vector<Callback*> extra, const std::string& shuffle) {
    LearningRateScheduler cosine(cosine_decay(0.02, 5));
    FitOptions options = options_for(to);
    options.validation_split = 0;
    options.initial_epoch = from;
    options.shuffle_state = shuffle;
    options.callbacks = {&cosine};
    options.callbacks.insert(options.callbacks.end(), extra.begin(), extra.end());
    return model.fit(data, options);
  };
  auto straight = mlp(1, Device::CPU);
  const History expected = run(*straight, 0, 5, {}, "");
  auto first = mlp(1, Device::CPU);
  CheckpointWriter writer(file, {});
  run(*first, 0, 2, {&writer}, "");
  auto resumed = mlp(3, Device::CPU);
  ResumePoint point = resume_from_checkpoint(file, *resumed, {}, {});
  const History later = run(*resumed, point.epochs_done, 5, {}, point.shuffle_state);
  ASSERT_EQ(later.size(), 3u);
  for (size_t e = 0; e < later.size(); ++e) EXPECT_EQ(later[e].learning_rate, expected[e + 2].learning_rate);
  EXPECT_EQ(resumed->parameters().to_vector(), straight->parameters().to_vector());
  std::system(("rm -rf '" + std::string(folder) + "'").c_str());
}

class Checkpoint : public TempDirTest {
 protected:
  // A checkpoint after two epochs of a run with the given callbacks and settings.
  std::string make(const std::vector<Callback*>& callbacks, const RunSettings& settings, int epochs = 2,
                   const RunDescription& run = {}) {
    model_ = mlp(1, Device::CPU);
    Sequential* model = model_.get();
    CheckpointWriter writer(path("c.safetensors"), settings, {}, run);
    FitOptions options = options_for(epochs);
    options.callbacks = callbacks;
    options.callbacks.push_back(&writer);
    model->fit(random_labeled_images(64, {8, 8}, 10, 5), options);
    return path("c.safetensors");
  }
  // A copy of the checkpoint `from` at `to`, its training state changed by `edit`.
  void rewrite_training(const std::string& from, const std::string& to, const std::function<void(json&)>& edit) {
    SafetensorsFile file = SafetensorsFile::read(from);
    SafetensorsWriter writer;
    for (const auto& [key, value] : file.metadata()) writer.set_metadata(key, value);
    json training = json::parse(file.metadata("training"));
    edit(training);
    writer.set_metadata("training", training.dump());
    for (const SafetensorsTensor& t : file.tensors()) writer.add(t.name, t.dtype, t.shape, file.data(t));
    writer.write(to);
  }
  std::unique_ptr<Sequential> model_;  // the last one make() trained
};

TEST_F(Checkpoint, HoldsTheTensorsAndStateItDocuments) {
  RunCallbacks callbacks;
  const RunDescription run = {{"program", "test"}, {"--epochs", "2"}};
  SafetensorsFile file = SafetensorsFile::read(make(callbacks.list(), {}, 2, run));
  EXPECT_EQ(file.metadata("content"), "checkpoint");
  EXPECT_EQ(read_run_description(file), run);
  const History history = checkpoint_history(file);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].learning_rate, 0.02f);
  EXPECT_GT(history[1].loss, 0);
  for (const char* name : {"dense.kernel", "dense.kernel.adam_m", "dense.kernel.adam_v", "dense.kernel.early_stopping",
                           "dense_1.bias.adam_v"})
    EXPECT_NE(file.find(name), nullptr) << name;
  json training = json::parse(file.metadata("training"));
  EXPECT_EQ(training["epochs_done"], 2);
  EXPECT_EQ(training["optimizer_steps"], 2 * 3);  // 48 training samples in batches of 16
  EXPECT_EQ(training["steps_done"], 2 * 3);
  EXPECT_EQ(training["learning_rate"], model_->learning_rate() == 0.02f ? "0.02" : "0.01");  // the plateau halves it
  EXPECT_EQ(training["history"]["learning_rate"][0].get<double>(), 0.02f);
  EXPECT_TRUE(training["callbacks"].contains("early_stopping"));
  EXPECT_TRUE(training["callbacks"].contains("reduce_lr_on_plateau"));
  // A checkpoint is also a weights file: its parameters load into a model and predict.
  auto model = load_model(path("c.safetensors"), Device::CPU);
  EXPECT_EQ(model->parameters().to_vector(), read_parameter_tensors(file, model->parameter_store(), "", false));
}

TEST_F(Checkpoint, ResumingIsRefusedNamingWhy) {
  RunCallbacks callbacks;
  const std::string file = make(callbacks.list(), {{"--batch-size", "16"}});
  auto model = mlp(1, Device::CPU);
  RunCallbacks fresh;
  expect_one_line_error<UsageError>(
      [&] { resume_from_checkpoint(file, *model, fresh.list(), {{"--batch-size", "64"}}); },
      {"was trained with --batch-size 16, this run has 64"});
  expect_one_line_error<UsageError>(
      [&] { resume_from_checkpoint(file, *mlp(1, Device::CPU, 32), fresh.list(), {{"--batch-size", "16"}}); },
      {"holds another model: layer 2 ('dense') has units 16 in the file, 32 here"});
  expect_one_line_error<UsageError>(
      [&] { resume_from_checkpoint(file, *model, {&fresh.early}, {{"--batch-size", "16"}}); },
      {"holds the state of reduce_lr_on_plateau, which this run lacks"});
  auto faster = mlp(1, Device::CPU);
  faster->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});  // Adam's default rate, not 0.02
  expect_one_line_error<UsageError>(
      [&] { resume_from_checkpoint(file, *faster, fresh.list(), {{"--batch-size", "16"}}); },
      {"holds another model: the optimizer has learning_rate 0.02 in the file, 0.001 here"});
  save_weights(*model, path("w.safetensors"));
  expect_one_line_error<UsageError>([&] { resume_from_checkpoint(path("w.safetensors"), *model, {}, {}); },
                                    {"holds weights only, not a checkpoint"});

  const std::string plain = make({}, {});
  expect_one_line_error<UsageError>([&] { resume_from_checkpoint(plain, *model, fresh.list(), {}); },
                                    {"holds no state for this run's early_stopping"});
  StopAtThreshold stop("loss", 1e9);  // stops after the first epoch
  const std::string stopped = make({&stop}, {});
  expect_one_line_error<UsageError>([&] { resume_from_checkpoint(stopped, *model, {}, {}); },
                                    {"is of a run that a callback stopped after epoch 1"});
}

TEST_F(Checkpoint, DamagedTrainingStateIsOneErrorNamingTheFile) {
  const std::string good = make({}, {});
  const std::string bad = path("bad.safetensors");
  auto with_training = [&](const std::function<void(json&)>& edit) { rewrite_training(good, bad, edit); };
  auto expect_damaged = [&](const std::string& part) {
    SCOPED_TRACE(part);
    auto model = mlp(1, Device::CPU);
    expect_one_line_error<Error>([&] { resume_from_checkpoint(bad, *model, {}, {}); }, {part});
  };
  with_training([](json& t) { t.erase("shuffle_state"); });
  expect_damaged("safetensors file '" + bad + "': its training state lacks 'shuffle_state'");
  with_training([](json& t) { t["shuffle_state"] = "12 nonsense"; });
  expect_damaged("the shuffle generator's saved state is malformed");
  with_training([](json& t) { t["learning_rate"] = 0.001; });
  expect_damaged("learning_rate is not a positive number written as text");
  with_training([](json& t) { t["epochs_done"] = 5; });
  expect_damaged("its history has 2 epochs, but 5 were done");
  with_training([](json& t) { t["optimizer_steps"] = -1; });
  expect_damaged("optimizer_steps is not an integer from 0");
  with_training([](json& t) { t["surprise"] = 1; });
  expect_damaged("unknown entry 'surprise'");
  with_training([](json& t) { t["callbacks"]["early_stopping"] = {{"numbers", {{"best", "x"}}}, {"weights", false}}; });
  expect_damaged("'best', which is not a number written as text");
  json deep = 0;
  for (int i = 0; i < 50; ++i) deep = json::array({deep});
  with_training([&](json& t) { t["history"]["loss"] = deep; });
  expect_damaged("its training state nests lists or objects more than 6 deep");
}

// A callback's saved numbers are checked before the callback, or the model, takes any of them.
TEST_F(Checkpoint, DamagedCallbackStateIsRefusedBeforeAnythingChanges) {
  RunCallbacks callbacks;
  const std::string good = make(callbacks.list(), {});
  const std::string bad = path("bad.safetensors");
  auto with_early_stopping = [&](const std::function<void(json&)>& edit) {
    rewrite_training(good, bad, [&](json& training) { edit(training["callbacks"]["early_stopping"]["numbers"]); });
  };
  for (const auto& [edit, message] : std::vector<std::pair<std::function<void(json&)>, std::string>>{
           {[](json& n) { n.erase("wait"); }, "the saved state of early_stopping lacks 'wait'"},
           {[](json& n) { n["wait"] = "1e300"; }, "has 'wait' " },
           {[](json& n) { n["best_epoch"] = "2.5"; }, "not a whole number from -1 to"},
           {[](json& n) { n["wait"] = "2147483647"; }, "not a whole number from -1 to 1073741824"},
           {[](json& n) { n["stopped_epoch"] = "nan"; }, "not a whole number"}}) {
    SCOPED_TRACE(message);
    with_early_stopping(edit);
    auto model = mlp(7, Device::CPU);
    const std::vector<float> before = model->parameters().to_vector();
    RunCallbacks fresh;
    expect_one_line_error<Error>([&] { resume_from_checkpoint(bad, *model, fresh.list(), {}); },
                                 {"safetensors file '" + bad + "'", message});
    EXPECT_EQ(model->parameters().to_vector(), before);
    EXPECT_EQ(fresh.early.best_epoch(), -1);
  }
  // Damage in the second callback's state leaves the first one's untouched too.
  rewrite_training(good, bad, [](json& t) { t["callbacks"]["reduce_lr_on_plateau"]["numbers"]["wait"] = "1.5"; });
  RunCallbacks fresh;
  expect_one_line_error<Error>([&] { resume_from_checkpoint(bad, *mlp(7, Device::CPU), fresh.list(), {}); },
                               {"reduce_lr_on_plateau has 'wait' 1.5, not a whole number"});
  EXPECT_EQ(fresh.early.best_epoch(), -1);
}

}  // namespace
}  // namespace loom::test
