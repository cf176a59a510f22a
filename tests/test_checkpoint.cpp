// Checkpoints (engine/training/checkpoint.h): a run resumed from the end of epoch k and trained to epoch n ends with
// parameters, optimizer state, learning rate and history bit-identical to a run trained to n in one go (with a
// validation split, EarlyStopping restoring its best weights and ReduceLROnPlateau changing the rate across the
// resume); resuming is refused, naming the reason, for another architecture, other settings, other callbacks, a
// weights file or a stopped run; a damaged training state is one error naming the file.
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <tuple>
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
#include "engine/training/trainer.h"
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

// A resume into a Trainer made for it: for what a resume refuses, or restores into the model.
ResumePoint resume_model(const std::string& file, Sequential& model, const std::vector<Callback*>& callbacks,
                         const RunSettings& settings) {
  Trainer trainer(model);
  return resume_from_checkpoint(file, trainer, callbacks, settings);
}

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
  Trainer straight_trainer(*straight);
  const History expected = straight_trainer.fit(data, all);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kEpochs)) << "early stopping ended the reference run; retune";
  ASSERT_LT(expected.back().learning_rate, expected.front().learning_rate) << "the plateau schedule never acted";

  auto first = mlp(1, device);
  RunCallbacks first_callbacks;
  CheckpointWriter writer(this->path("c.safetensors"), {{"--batch-size", "16"}});
  FitOptions part = options_for(kStop);
  part.callbacks = first_callbacks.list();
  part.callbacks.push_back(&writer);
  Trainer(*first).fit(data, part);

  auto resumed = mlp(2, device);  // another initialisation: everything must come from the checkpoint
  Trainer resumed_trainer(*resumed);
  RunCallbacks resumed_callbacks;
  ResumePoint point = resume_from_checkpoint(this->path("c.safetensors"), resumed_trainer, resumed_callbacks.list(),
                                             {{"--batch-size", "16"}});
  ASSERT_EQ(point.epochs_done, kStop);
  FitOptions rest = options_for(kEpochs);
  rest.initial_epoch = point.epochs_done;
  rest.shuffle_state = point.shuffle_state;
  rest.callbacks = resumed_callbacks.list();
  CheckpointWriter rest_writer(this->path("c.safetensors"), {{"--batch-size", "16"}}, point.history);
  rest.callbacks.push_back(&rest_writer);
  History later = resumed_trainer.fit(data, rest);

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
  EXPECT_EQ(resumed_trainer.learning_rate(), straight_trainer.learning_rate());
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
  auto run = [&](Trainer& trainer, int from, int to, std::vector<Callback*> extra, const std::string& shuffle) {
    LearningRateScheduler cosine(cosine_decay(0.02, 5));
    FitOptions options = options_for(to);
    options.validation_split = 0;
    options.initial_epoch = from;
    options.shuffle_state = shuffle;
    options.callbacks = {&cosine};
    options.callbacks.insert(options.callbacks.end(), extra.begin(), extra.end());
    return trainer.fit(data, options);
  };
  auto straight = mlp(1, Device::CPU);
  Trainer straight_trainer(*straight);
  const History expected = run(straight_trainer, 0, 5, {}, "");
  auto first = mlp(1, Device::CPU);
  Trainer first_trainer(*first);
  CheckpointWriter writer(file, {});
  run(first_trainer, 0, 2, {&writer}, "");
  auto resumed = mlp(3, Device::CPU);
  Trainer resumed_trainer(*resumed);
  ResumePoint point = resume_from_checkpoint(file, resumed_trainer, {}, {});
  const History later = run(resumed_trainer, point.epochs_done, 5, {}, point.shuffle_state);
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
    trainer_.reset();
    model_ = mlp(1, Device::CPU);
    trainer_ = std::make_unique<Trainer>(*model_);
    CheckpointWriter writer(path("c.safetensors"), settings, {}, run);
    FitOptions options = options_for(epochs);
    options.callbacks = callbacks;
    options.callbacks.push_back(&writer);
    trainer_->fit(random_labeled_images(64, {8, 8}, 10, 5), options);
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
  // A copy of the checkpoint `from` at `to` with element `index` of tensor `name` set to `value`.
  void rewrite_tensor(const std::string& from, const std::string& to, const std::string& name, size_t index,
                      float value) {
    SafetensorsFile file = SafetensorsFile::read(from);
    SafetensorsWriter writer;
    for (const auto& [key, text] : file.metadata()) writer.set_metadata(key, text);
    for (const SafetensorsTensor& t : file.tensors()) {
      if (t.name != name) {
        writer.add(t.name, t.dtype, t.shape, file.data(t));
        continue;
      }
      std::vector<float> values = file.floats(t);
      values.at(index) = value;
      writer.add(t.name, t.shape, values);
    }
    writer.write(to);
  }
  // Resuming from `file` fails as a damaged file does (loom::Error, exit 1; never a UsageError) with every part of
  // `parts` in one line, and leaves the model and the callbacks as they were.
  void expect_refused(const std::string& file, const std::vector<std::string>& parts) {
    auto model = mlp(7, Device::CPU);
    const std::vector<float> before = model->parameters().to_vector();
    RunCallbacks fresh;
    expect_one_line_error<Error>(
        [&] {
          try {
            resume_model(file, *model, fresh.list(), {});
          } catch (const UsageError& e) {
            ADD_FAILURE() << "a UsageError (exit 2) for a damaged file: " << e.what();
          }
        },
        parts);
    EXPECT_EQ(model->parameters().to_vector(), before);
    EXPECT_EQ(model->optimizer().steps_taken(), 0);
    EXPECT_EQ(fresh.early.best_epoch(), -1);
  }
  std::unique_ptr<Sequential> model_;  // the last one make() trained, and its trainer
  std::unique_ptr<Trainer> trainer_;
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
  EXPECT_EQ(training["learning_rate"], trainer_->learning_rate() == 0.02f ? "0.02" : "0.01");  // the plateau halves it
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
      [&] {
        resume_model(file, *model, fresh.list(), {{"--batch-size", "64"}});
      },
      {"was trained with --batch-size 16, this run has 64"});
  expect_one_line_error<UsageError>(
      [&] {
        resume_model(file, *mlp(1, Device::CPU, 32), fresh.list(), {{"--batch-size", "16"}});
      },
      {"holds another model: layer 2 ('dense') has units 16 in the file, 32 here"});
  expect_one_line_error<UsageError>(
      [&] {
        resume_model(file, *model, {&fresh.early}, {{"--batch-size", "16"}});
      },
      {"holds the state of reduce_lr_on_plateau, which this run lacks"});
  auto faster = mlp(1, Device::CPU);
  faster->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});  // Adam's default rate, not 0.02
  expect_one_line_error<UsageError>(
      [&] {
        resume_model(file, *faster, fresh.list(), {{"--batch-size", "16"}});
      },
      {"holds another model: the optimizer has learning_rate 0.02 in the file, 0.001 here"});
  save_weights(*model, path("w.safetensors"));
  expect_one_line_error<UsageError>([&] { resume_model(path("w.safetensors"), *model, {}, {}); },
                                    {"holds weights only, not a checkpoint"});

  const std::string plain = make({}, {});
  expect_one_line_error<UsageError>([&] { resume_model(plain, *model, fresh.list(), {}); },
                                    {"holds no state for this run's early_stopping"});
  StopAtThreshold stop("loss", 1e9);  // stops after the first epoch
  const std::string stopped = make({&stop}, {});
  expect_one_line_error<UsageError>([&] { resume_model(stopped, *model, {}, {}); },
                                    {"is of a run that a callback stopped after epoch 1"});
}

TEST_F(Checkpoint, DamagedTrainingStateIsOneErrorNamingTheFile) {
  const std::string good = make({}, {});
  const std::string bad = path("bad.safetensors");
  auto with_training = [&](const std::function<void(json&)>& edit) { rewrite_training(good, bad, edit); };
  auto expect_damaged = [&](const std::string& part) {
    SCOPED_TRACE(part);
    auto model = mlp(1, Device::CPU);
    expect_one_line_error<Error>([&] { resume_model(bad, *model, {}, {}); }, {part});
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
           {[](json& n) { n["wait"] = "1e300"; }, "has 'wait' "},
           {[](json& n) { n["best_epoch"] = "2.5"; }, "not a whole number from -1 to"},
           {[](json& n) { n["wait"] = "2147483647"; }, "not a whole number from -1 to 1073741824"},
           {[](json& n) { n["stopped_epoch"] = "nan"; }, "not a whole number"}}) {
    SCOPED_TRACE(message);
    with_early_stopping(edit);
    auto model = mlp(7, Device::CPU);
    const std::vector<float> before = model->parameters().to_vector();
    RunCallbacks fresh;
    expect_one_line_error<Error>([&] { resume_model(bad, *model, fresh.list(), {}); },
                                 {"safetensors file '" + bad + "'", message});
    EXPECT_EQ(model->parameters().to_vector(), before);
    EXPECT_EQ(fresh.early.best_epoch(), -1);
  }
  // Damage in the second callback's state leaves the first one's untouched too.
  rewrite_training(good, bad, [](json& t) { t["callbacks"]["reduce_lr_on_plateau"]["numbers"]["wait"] = "1.5"; });
  RunCallbacks fresh;
  expect_one_line_error<Error>([&] { resume_model(bad, *mlp(7, Device::CPU), fresh.list(), {}); },
                               {"reduce_lr_on_plateau has 'wait' 1.5, not a whole number"});
  EXPECT_EQ(fresh.early.best_epoch(), -1);
}

// A NaN or infinite moment, or a negative second moment, would make every later step NaN (the run then fails epochs
// later with "try a lower learning rate"): refused where the tensors are read, naming the tensor.
TEST_F(Checkpoint, ImpossibleTensorValuesAreRefusedNamingTheTensor) {
  RunCallbacks callbacks;
  const std::string good = make(callbacks.list(), {});
  const std::string bad = path("bad.safetensors");
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const auto& [name, index, value, message] : std::vector<std::tuple<std::string, size_t, float, std::string>>{
           {"dense.kernel", 17, nan, "tensor 'dense.kernel' holds a NaN at element 17 (of 1024"},
           {"dense.kernel.adam_m", 5, nan, "tensor 'dense.kernel.adam_m' holds a NaN at element 5"},
           {"dense_1.bias.adam_m", 1, -inf, "tensor 'dense_1.bias.adam_m' holds -inf at element 1"},
           {"dense.bias.adam_v", 0, inf, "tensor 'dense.bias.adam_v' holds +inf at element 0"},
           {"dense_1.bias.adam_v", 2, -1e-3f,
            "tensor 'dense_1.bias.adam_v' holds -0.001 at element 2 (of 10, from 0, in the file's order): a variance "
            "is never negative"},
           {"dense.kernel.early_stopping", 3, nan, "tensor 'dense.kernel.early_stopping' holds a NaN at element 3"}}) {
    SCOPED_TRACE(message);
    rewrite_tensor(good, bad, name, index, value);
    expect_refused(bad, {"safetensors file '" + bad + "': " + message});
  }
  // A first moment may be negative; the untouched file resumes.
  rewrite_tensor(good, bad, "dense.kernel.adam_m", 5, -0.25f);
  auto model = mlp(7, Device::CPU);
  RunCallbacks fresh;
  EXPECT_EQ(resume_model(bad, *model, fresh.list(), {}).epochs_done, 2);
  EXPECT_EQ(model->optimizer().steps_taken(), 2 * 3);
}

// docs/CHECKPOINTS.md promised that numbers out of range are refused; a best epoch beyond the epochs done, a NaN
// best, 0 optimizer steps after 6 steps, a negative cooldown and a learning rate of 1e30 were taken as they were.
TEST_F(Checkpoint, ImpossibleTrainingNumbersAreRefusedNamingThem) {
  RunCallbacks callbacks;
  const std::string good = make(callbacks.list(), {});  // 2 epochs of 3 steps
  const std::string bad = path("bad.safetensors");
  using Edit = std::function<void(json&)>;
  auto early = [](std::string key, std::string value) -> Edit {
    return [=](json& t) { t["callbacks"]["early_stopping"]["numbers"][key] = value; };
  };
  auto plateau = [](std::string key, std::string value) -> Edit {
    return [=](json& t) { t["callbacks"]["reduce_lr_on_plateau"]["numbers"][key] = value; };
  };
  std::string zeros;  // the shuffle generator's state with every number 0
  {
    std::istringstream words(
        json::parse(SafetensorsFile::read(good).metadata("training"))["shuffle_state"].get<std::string>());
    for (std::string word; words >> word;) zeros += zeros.empty() ? "0" : " 0";
  }
  // Numbers of the training state itself, which the report reads too (checkpoint_history).
  for (const auto& [edit, message] : std::vector<std::pair<Edit, std::string>>{
           {[](json& t) { t["optimizer_steps"] = 0; },
            "its training state's optimizer_steps 0 is impossible: Adam steps once in each of the 6 steps done"},
           {[](json& t) { t["optimizer_steps"] = 7; }, "its training state's optimizer_steps 7 is impossible"},
           {[](json& t) { t["steps_done"] = 0, t["optimizer_steps"] = 0; },
            "its training state's steps_done 0 is impossible after 2 epochs: every epoch trains at least one step"},
           {[](json& t) { t["learning_rate"] = "1e30"; },
            "its training state's learning_rate 1e+30 is impossible: above the highest rate its epochs trained with, "
            "0.02"},
           {[](json& t) { t["history"]["learning_rate"][1] = 1e300; },  // a rate is kept as a float
            "its history's learning_rate for epoch 2 is 1e+300, not a positive 32-bit float"},
           {[&](json& t) { t["shuffle_state"] = zeros; },
            "its training state's shuffle_state is the all-zero state, which no seeded generator reaches"}}) {
    SCOPED_TRACE(message);
    rewrite_training(good, bad, edit);
    expect_refused(bad, {"safetensors file '" + bad + "': " + message});
  }
  // The report reads the same state (not the optimizer's count, which only resuming uses), in the same words.
  rewrite_training(good, bad, [&](json& t) { t["shuffle_state"] = zeros; });
  try {
    checkpoint_history(SafetensorsFile::read(bad));
    ADD_FAILURE() << "an all-zero shuffle state was read";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "safetensors file '" + bad +
                                         "': its training state's shuffle_state is the "
                                         "all-zero state, which no seeded generator reaches");
  }
  rewrite_training(good, bad, [](json& t) { t["learning_rate"] = "1e30"; });
  expect_one_line_error<Error>([&] { checkpoint_history(SafetensorsFile::read(bad)); }, {"learning_rate 1e+30"});

  // The callbacks' numbers, held to the 2 epochs done.
  for (const auto& [edit, message] : std::vector<std::pair<Edit, std::string>>{
           {early("best_epoch", "5"),
            "early_stopping has 'best_epoch' 5, impossible after 2 epochs: it is an epoch index, from 0 to 1, or -1 "
            "for none"},
           {early("stopped_epoch", "2"), "early_stopping has 'stopped_epoch' 2, impossible after 2 epochs"},
           {early("wait", "3"),
            "early_stopping has 'wait' 3, impossible after 2 epochs: it counts epochs, from 0 to 2"},
           {early("wait", "-1"), "early_stopping has 'wait' -1, impossible after 2 epochs"},
           {early("best", "nan"),
            "early_stopping has 'best' nan, impossible: it is an epoch's figure, or inf before any epoch improved"},
           {early("best", "-inf"), "early_stopping has 'best' -inf, impossible"},
           {[](json& t) {
              t["callbacks"]["early_stopping"]["numbers"]["best"] = "0.5";
              t["callbacks"]["early_stopping"]["numbers"]["best_epoch"] = "-1";
            },
            "early_stopping has 'best' 0.5 but 'best_epoch' -1, impossible"},
           {plateau("cooldown_left", "-1"),
            "reduce_lr_on_plateau has 'cooldown_left' -1, impossible: it counts down from the cooldown, 0, to 0"},
           {plateau("cooldown_left", "1"), "reduce_lr_on_plateau has 'cooldown_left' 1, impossible"},
           {plateau("wait", "3"), "reduce_lr_on_plateau has 'wait' 3, impossible after 2 epochs"},
           {plateau("best", "nan"), "reduce_lr_on_plateau has 'best' nan, impossible"},
           {plateau("epochs_done", "9"),
            "its callback state 'reduce_lr_on_plateau' has 'epochs_done', which the training state keeps"}}) {
    SCOPED_TRACE(message);
    rewrite_training(good, bad, edit);
    expect_refused(bad, {"safetensors file '" + bad + "': ", message});
  }
}

// An early-stopped run ends with (prints, evaluates, saves with --save) its best epoch's weights; its checkpoint holds
// the last epoch's, to resume from, and the best ones beside them. checkpoint_epochs says which is which (predict
// prints it).
TEST_F(Checkpoint, SaysWhichEpochsWeightsItHolds) {
  RunCallbacks callbacks;
  SafetensorsFile file = SafetensorsFile::read(make(callbacks.list(), {}, 4));
  const CheckpointEpochs epochs = checkpoint_epochs(file);
  EXPECT_EQ(epochs.last, 4);
  EXPECT_EQ(epochs.best, callbacks.early.best_epoch() + 1);
  const ParameterStore& store = model_->parameter_store();
  // The model ended with the best weights; the checkpoint keeps them apart from its own, the last epoch's.
  EXPECT_EQ(read_parameter_tensors(file, store, ".early_stopping", false), model_->parameters().to_vector());
  EXPECT_EQ(read_parameter_tensors(file, store, "", false) == model_->parameters().to_vector(),
            epochs.best == epochs.last);

  const std::string edited = path("edited.safetensors");
  rewrite_training(file.source(), edited, [](json& t) {
    t["callbacks"]["early_stopping"]["numbers"]["best_epoch"] = "1";
    t["callbacks"]["early_stopping"]["numbers"]["wait"] = "2";
  });
  EXPECT_EQ(checkpoint_epochs(SafetensorsFile::read(edited)).best, 2);
  rewrite_training(file.source(), edited,
                   [](json& t) { t["callbacks"]["early_stopping"]["numbers"]["best_epoch"] = "4"; });
  expect_one_line_error<Error>([&] { checkpoint_epochs(SafetensorsFile::read(edited)); },
                               {"safetensors file '" + edited + "': ", "'best_epoch' 4, impossible after 4 epochs"});
  // Without early stopping there is no other epoch to speak of.
  const CheckpointEpochs plain = checkpoint_epochs(SafetensorsFile::read(make({}, {}, 3)));
  EXPECT_EQ(plain.last, 3);
  EXPECT_EQ(plain.best, 0);
}

}  // namespace
}  // namespace loom::test
