// Saved models (engine/model/model_file.h, engine/model/architecture.h): a round trip predicts identically, tensors
// carry Keras's names and layouts, the metadata alone rebuilds the model, a file of another architecture is refused
// naming the difference, every corruption at the model's level is one clear error, and a failed save keeps the
// previous file.
#include <sys/resource.h>

#include <csignal>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "engine/io/safetensors.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"
#include "engine/model/architecture.h"
#include "engine/model/model_file.h"
#include "engine/runtime/errors.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

using nlohmann::json;

std::unique_ptr<Sequential> mlp(int64_t hidden, uint64_t seed, Device device = Device::CPU) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(hidden, Activation::ReLU);
  model->add<Dense>(10);
  model->build({8, 8}, device, seed);
  model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  return model;
}

std::unique_ptr<Sequential> cnn(uint64_t seed, Device device = Device::CPU) {
  auto model = std::make_unique<Sequential>();
  model->add<Conv2D>(3, 3, 3, Padding::Same, Activation::ReLU);
  model->add<MaxPool2D>(2);
  model->add<Flatten>();
  model->add<Dense>(10, Activation::Softmax);
  model->build({6, 6, 2}, device, seed);
  model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{false});
  return model;
}

void train_a_little(Sequential& model) {
  FitOptions options;
  options.epochs = 2;
  options.verbose = 0;
  Trainer(model).fit(random_labeled_images(64, model.input_shape(), 10, 3), options);
}

// A copy of a saved file with its metadata or tensors changed: how the corruption tests make their files.
void rewrite(const std::string& from, const std::string& to,
             const std::function<void(std::map<std::string, std::string>&)>& edit_metadata,
             const std::function<bool(const SafetensorsTensor&, SafetensorsWriter&)>& edit_tensor = nullptr) {
  SafetensorsFile file = SafetensorsFile::read(from);
  SafetensorsWriter writer;
  std::map<std::string, std::string> metadata = file.metadata();
  edit_metadata(metadata);
  for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
  for (const SafetensorsTensor& t : file.tensors())
    if (!edit_tensor || !edit_tensor(t, writer)) writer.add(t.name, t.dtype, t.shape, file.data(t));
  writer.write(to);
}

class ModelFile : public TempDirTest {};

TEST_F(ModelFile, RoundTripPredictsIdentically) {
  for (bool convolutional : {false, true}) {
    SCOPED_TRACE(convolutional ? "CNN" : "MLP");
    auto model = convolutional ? cnn(1) : mlp(16, 1);
    train_a_little(*model);
    const std::string file = path(convolutional ? "cnn.safetensors" : "mlp.safetensors");
    save_weights(*model, file);

    LabeledImages probe = random_labeled_images(20, model->input_shape(), 10, 9);
    const std::vector<float> expected = predict(*model, probe.images).to_vector();
    auto loaded = load_model(file, Device::CPU);
    EXPECT_EQ(loaded->summary(), model->summary());
    EXPECT_EQ(predict(*loaded, probe.images).to_vector(), expected);
    EXPECT_EQ(loaded->parameters().to_vector(), model->parameters().to_vector());

    auto other = convolutional ? cnn(2) : mlp(16, 2);  // another initialisation, then the saved weights
    ASSERT_NE(other->parameters().to_vector(), model->parameters().to_vector());
    load_weights(*other, file);
    EXPECT_EQ(predict(*other, probe.images).to_vector(), expected);
  }
}

TEST_F(ModelFile, TensorsHaveKerasNamesAndLayouts) {
  auto model = cnn(4);
  save_weights(*model, path("cnn.safetensors"));
  SafetensorsFile file = SafetensorsFile::read(path("cnn.safetensors"));
  std::vector<std::string> names;
  for (const SafetensorsTensor& t : file.tensors()) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"conv2d.bias", "conv2d.kernel", "dense.bias", "dense.kernel"}));
  // Keras: Conv2D kernel [kh, kw, in, out], Dense kernel [in, out]; loom keeps the conv kernel [out, kh, kw, in].
  EXPECT_EQ(file.find("conv2d.kernel")->shape, (Shape{3, 3, 2, 3}));
  EXPECT_EQ(file.find("dense.kernel")->shape, (Shape{3 * 3 * 3, 10}));
  const ParameterStore& store = model->parameter_store();
  const std::vector<float> values = model->parameters().to_vector();
  const float* loom_kernel = values.data() + store.find("conv2d.kernel").offset;  // [3 out, 3 kh, 3 kw, 2 in]
  const std::vector<float> keras_kernel = file.floats("conv2d.kernel");           // [3 kh, 3 kw, 2 in, 3 out]
  for (int o = 0; o < 3; ++o)
    for (int h = 0; h < 3; ++h)
      for (int w = 0; w < 3; ++w)
        for (int i = 0; i < 2; ++i)
          ASSERT_EQ(keras_kernel[((h * 3 + w) * 2 + i) * 3 + o], loom_kernel[((o * 3 + h) * 3 + w) * 2 + i]);
  const float* loom_dense = values.data() + store.find("dense.kernel").offset;
  EXPECT_EQ(file.floats("dense.kernel"), std::vector<float>(loom_dense, loom_dense + 27 * 10));
}

TEST_F(ModelFile, MetadataDescribesTheModel) {
  auto model = cnn(4);
  save_weights(*model, path("cnn.safetensors"));
  SafetensorsFile file = SafetensorsFile::read(path("cnn.safetensors"));
  EXPECT_EQ(file.metadata("format"), "loom");
  EXPECT_EQ(file.metadata("format_version"), "1");
  EXPECT_EQ(file.metadata("content"), "weights");
  const json architecture = json::parse(file.metadata("architecture"));
  EXPECT_EQ(architecture["input_shape"], json::parse("[6, 6, 2]"));
  EXPECT_EQ(architecture["layers"][0],
            json::parse(R"({"class_name": "Conv2D", "name": "conv2d", "config": {"filters": 3, "kernel_size": [3, 3],
                            "padding": "same", "activation": "relu"}})"));
  EXPECT_EQ(architecture["layers"][1]["config"], json::parse(R"({"pool_size": [2, 2], "strides": [2, 2],
                                                                  "padding": "valid"})"));
  EXPECT_EQ(architecture["loss"], json::parse(R"({"name": "sparse_categorical_crossentropy", "from_logits": false})"));
  EXPECT_EQ(architecture["optimizer"], json::parse(R"({"name": "Adam", "learning_rate": 0.001, "beta_1": 0.9,
                                                       "beta_2": 0.999, "epsilon": 1e-07})"));
  // The text is the same for equal models, so files of equal models differ only in their weights.
  EXPECT_EQ(architecture_json(*cnn(5)), architecture_json(*model));
}

TEST_F(ModelFile, RunDescriptionIsKeptInOrderAndCheckedWhenRead) {
  const RunDescription run = {{"program", "train_mlp"}, {"--epochs", "3"}, {"device", "cpu"}, {"--lr", "0.001"}};
  save_weights(*mlp(16, 1), path("described.safetensors"), run);
  EXPECT_EQ(read_run_description(open_model_file(path("described.safetensors"))), run);
  save_weights(*mlp(16, 1), path("plain.safetensors"));
  EXPECT_TRUE(read_run_description(open_model_file(path("plain.safetensors"))).empty());
  // A path that is not UTF-8 (--load's, say) is kept readable, never a failed save at the end of a run.
  save_weights(*mlp(16, 1), path("bytes.safetensors"), {{"--load", "w\xff.safetensors"}});
  EXPECT_EQ(read_run_description(open_model_file(path("bytes.safetensors"))),
            (RunDescription{{"--load", "w\xef\xbf\xbd.safetensors"}}));
  EXPECT_EQ(SafetensorsFile::read(path("plain.safetensors")).metadata().count("run"), 0u);

  const std::string bad = path("bad.safetensors");
  auto expect_refused = [&](const std::string& text, const std::string& part) {
    SCOPED_TRACE(text);
    rewrite(path("described.safetensors"), bad, [&](auto& m) { m["run"] = text; });
    // The weights still load: a description is for people, never compared.
    load_weights(*mlp(16, 1), bad);
    expect_one_line_error<Error>([&] { read_run_description(open_model_file(bad)); },
                                 {"safetensors file '" + bad + "'", part});
  };
  expect_refused("{\"program\": \"x\"}", "its run description is not a list");
  expect_refused("[[\"program\"]]", "holds [\"program\"], not a [name, value] pair of texts");
  expect_refused("[[\"--epochs\", 3]]", "not a [name, value] pair of texts");
  expect_refused("[[\"a\", \"b\"", "its run description is not valid JSON");
  std::string many = "[";
  for (int i = 0; i < 300; ++i) many += std::string(i ? "," : "") + "[\"k\", \"v\"]";
  expect_refused(many + "]", "its run description holds a list of more than 256");
}

TEST_F(ModelFile, AnotherArchitectureIsRefusedNamingTheDifference) {
  save_weights(*mlp(16, 1), path("mlp16.safetensors"));
  expect_one_line_error<UsageError>(
      [&] { load_weights(*mlp(32, 1), path("mlp16.safetensors")); },
      {"mlp16.safetensors' holds another model", "layer 2 ('dense') has units 16 in the file, 32 here"});
  expect_one_line_error<UsageError>([&] { load_weights(*cnn(1), path("mlp16.safetensors")); },
                                    {"input shape [8,8] in the file, [6,6,2] here"});
  auto sgd = std::make_unique<Sequential>();
  sgd->add<Flatten>();
  sgd->add<Dense>(16, Activation::ReLU);
  sgd->add<Dense>(10);
  sgd->build({8, 8}, Device::CPU, 1);
  sgd->compile(std::make_unique<SGD>(0.1f), SparseCategoricalCrossentropy{true});
  // Weights may be fine-tuned with another optimizer (a checkpoint resumes only with the same: test_checkpoint.cpp).
  load_weights(*sgd, path("mlp16.safetensors"));
  EXPECT_EQ(sgd->parameters().to_vector(),
            load_model(path("mlp16.safetensors"), Device::CPU)->parameters().to_vector());
  auto deeper = std::make_unique<Sequential>();
  deeper->add<Flatten>();
  deeper->add<Dense>(16, Activation::ReLU);
  deeper->add<Dense>(10);
  deeper->add<Dense>(10);
  deeper->build({8, 8}, Device::CPU, 1);
  deeper->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  expect_one_line_error<UsageError>([&] { load_weights(*deeper, path("mlp16.safetensors")); },
                                    {"the file holds 3 layers (Flatten, Dense 16, Dense 10), this model 4 "
                                     "(Flatten, Dense 16, Dense 10, Dense 10)"});
}

TEST_F(ModelFile, EveryCorruptionIsOneErrorNamingTheFile) {
  save_weights(*mlp(16, 1), path("good.safetensors"));
  const std::string bad = path("bad.safetensors");
  auto expect_refused = [&](const std::string& what, const std::vector<std::string>& parts) {
    SCOPED_TRACE(what);
    std::vector<std::string> all{"safetensors file '" + bad + "'"};
    all.insert(all.end(), parts.begin(), parts.end());
    expect_one_line_error<Error>([&] { load_model(bad, Device::CPU); }, all);
    expect_one_line_error<Error>([&] { load_weights(*mlp(16, 1), bad); }, all);
  };
  auto with_metadata = [&](const std::string& key, const std::string& value) {
    rewrite(path("good.safetensors"), bad, [&](auto& m) { m[key] = value; });
  };
  auto with_architecture = [&](const std::function<void(json&)>& edit) {
    json architecture = json::parse(SafetensorsFile::read(path("good.safetensors")).metadata("architecture"));
    edit(architecture);
    with_metadata("architecture", architecture.dump());
  };

  rewrite(path("good.safetensors"), bad, [](auto& m) { m.clear(); });
  expect_refused("no metadata", {"not a loom model"});
  with_metadata("format_version", "2");
  expect_refused("newer format", {"format version '2'"});
  with_metadata("content", "optimizer");
  expect_refused("unknown content", {"holds 'optimizer'"});
  with_metadata("architecture", "{\"layers\": [");
  expect_refused("broken architecture JSON", {"architecture: is not valid JSON"});
  with_architecture([](json& a) { a["layers"][1]["class_name"] = "LSTM"; });
  expect_refused("unknown layer class", {"layer 2 is of class 'LSTM'"});
  with_architecture([](json& a) { a["layers"][1]["config"]["units"] = -4; });
  expect_refused("negative width", {"layer 2 (Dense) units must be an integer from 1"});
  with_architecture([](json& a) { a["layers"][1]["config"]["use_bias"] = false; });
  expect_refused("unknown setting", {"unknown setting 'use_bias'"});
  with_architecture([](json& a) {
    a["layers"][1]["config"]["units"] = 1 << 20;
    a["input_shape"] = {4096, 4096};
  });
  expect_refused("too many parameters", {"more than 268435456 parameters"});
  {  // made as text: a DOM this deep could not even be printed without overflowing the stack
    std::string text = SafetensorsFile::read(path("good.safetensors")).metadata("architecture");
    const std::string units = "\"units\":16";
    ASSERT_NE(text.find(units), std::string::npos);
    text.replace(text.find(units), units.size(),
                 "\"units\":" + std::string(100000, '[') + "16" + std::string(100000, ']'));
    with_metadata("architecture", text);
  }
  expect_refused("deeply nested value", {"architecture: nests lists or objects more than 6 deep"});
  with_architecture([](json& a) { a["layers"][1]["name"] = "hidden"; });
  expect_refused("renamed layer", {"layer 2 is named \"hidden\", but loom names it 'dense'"});

  auto with_tensor = [&](const std::function<bool(const SafetensorsTensor&, SafetensorsWriter&)>& edit) {
    rewrite(
        path("good.safetensors"), bad, [](auto&) {}, edit);
  };
  with_tensor([](const SafetensorsTensor& t, SafetensorsWriter&) { return t.name == "dense.bias"; });
  expect_refused("missing tensor", {"has no tensor 'dense.bias'"});
  with_tensor([](const SafetensorsTensor& t, SafetensorsWriter& w) {
    if (t.name != "dense.bias") return false;
    std::vector<int32_t> ints(16, 1);
    w.add(t.name, DType::I32, t.shape, ints.data());
    return true;
  });
  expect_refused("wrong dtype", {"tensor 'dense.bias' is int32 (16,); the model needs float32 (16,)"});
  with_tensor([](const SafetensorsTensor& t, SafetensorsWriter& w) {
    if (t.name != "dense.kernel") return false;
    w.add(t.name, Shape{16, 64}, std::vector<float>(16 * 64, 0.f));  // transposed
    return true;
  });
  expect_refused("transposed kernel", {"tensor 'dense.kernel' is float32 (16, 64); the model needs float32 (64, 16)"});
  with_tensor([](const SafetensorsTensor& t, SafetensorsWriter& w) {
    if (t.name == "dense.bias") w.add("dense_7.bias", Shape{3}, std::vector<float>(3, 0.f));
    return false;
  });
  expect_refused("tensor of no layer", {"tensor 'dense_7.bias' belongs to no layer of the model"});
}

// A copy of `from` at `to` with element `index` of tensor `name` set to `value` (a hand-edited file).
void set_element(const std::string& from, const std::string& to, const std::string& name, size_t index, float value) {
  rewrite(
      from, to, [](auto&) {},
      [&](const SafetensorsTensor& t, SafetensorsWriter& w) {
        if (t.name != name) return false;
        SafetensorsFile file = SafetensorsFile::read(from);
        std::vector<float> values = file.floats(name);
        values.at(index) = value;
        w.add(t.name, t.shape, values);
        return true;
      });
}

// A value no training produces is a damaged file (exit 1, as for any corrupt file), not usage.
template <class Body>
void expect_data_error(Body body, const std::vector<std::string>& parts) {
  expect_one_line_error<Error>(
      [&] {
        try {
          body();
        } catch (const UsageError& e) {
          ADD_FAILURE() << "a UsageError (exit 2) for a damaged file: " << e.what();
        }
      },
      parts);
}

// predict printed "T-shirt/top (nan)" for a file with one NaN weight, and --load trained on into a "try a lower
// learning rate" failure: every reader refuses it, naming the tensor and the element.
TEST_F(ModelFile, ValuesNoTrainingGivesAreRefusedNamingTheTensor) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(4, Activation::ReLU);
  model->add<BatchNormalization>();
  model->add<Dense>(10);
  model->build({8, 8}, Device::CPU, 1);
  model->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{true});
  const std::string good = path("good.safetensors"), bad = path("bad.safetensors");
  save_weights(*model, good);
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (const auto& [name, index, value, message] : std::vector<std::tuple<std::string, size_t, float, std::string>>{
           {"dense.kernel", 17, nan, "tensor 'dense.kernel' holds a NaN at element 17 (of 256"},
           {"dense_1.bias", 3, inf, "tensor 'dense_1.bias' holds +inf at element 3 (of 10"},
           {"batch_normalization.gamma", 0, -inf, "tensor 'batch_normalization.gamma' holds -inf at element 0"},
           {"batch_normalization.moving_variance", 2, -0.5f,
            "tensor 'batch_normalization.moving_variance' holds -0.5 at element 2 (of 4, from 0, in the file's "
            "order): a variance is never negative"}}) {
    SCOPED_TRACE(message);
    set_element(good, bad, name, index, value);
    expect_data_error([&] { load_model(bad, Device::CPU); }, {"safetensors file '" + bad + "': " + message});
    const std::vector<float> before = model->parameters().to_vector();
    expect_data_error([&] { load_weights(*model, bad); }, {message});
    EXPECT_EQ(model->parameters().to_vector(), before);
  }
  // Negative values are fine where they are not variances, and a variance may be 0 (a constant feature).
  set_element(good, bad, "batch_normalization.moving_mean", 1, -0.5f);
  set_element(bad, bad, "batch_normalization.moving_variance", 1, 0.f);
  EXPECT_EQ(load_model(bad, Device::CPU)
                ->parameters()
                .to_vector()[static_cast<size_t>(
                    model->parameter_store().find("batch_normalization.moving_mean").offset + 1)],
            -0.5f);
}

TEST_F(ModelFile, FailedSaveKeepsThePreviousFile) {
  auto model = mlp(16, 1);
  save_weights(*model, path("m.safetensors"));
  const std::vector<float> saved = model->parameters().to_vector();
  train_a_little(*model);
  // A file-size limit stops write() halfway as a full disk would (and holds for root, unlike a read-only folder).
  rlimit previous{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &previous), 0);
  rlimit small = previous;
  small.rlim_cur = 1024;
  void (*handler)(int) = signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  expect_one_line_error<Error>([&] { save_weights(*model, path("m.safetensors")); },
                               {"cannot write '" + path("m.safetensors") + "'", "File too large"});
  setrlimit(RLIMIT_FSIZE, &previous);
  signal(SIGXFSZ, handler);
  EXPECT_EQ(load_model(path("m.safetensors"), Device::CPU)->parameters().to_vector(), saved);
}

// The same file on either device: weights saved from the GPU load on the CPU and predict the same classes.
template <class Tag>
class ModelFileOnDevice : public DeviceTest<Tag> {};
TYPED_TEST_SUITE(ModelFileOnDevice, AllDevices, DeviceNames);

TYPED_TEST(ModelFileOnDevice, SavedOnOneDeviceLoadsOnTheCpu) {
  auto model = cnn(6, TypeParam::device);
  train_a_little(*model);
  char folder[] = "/tmp/loom_model_file_XXXXXX";
  ASSERT_NE(mkdtemp(folder), nullptr);
  const std::string file = std::string(folder) + "/m.safetensors";
  save_weights(*model, file);
  auto loaded = load_model(file, Device::CPU);
  EXPECT_EQ(loaded->parameters().to_vector(), model->parameters().to_vector());
  std::remove(file.c_str());
  rmdir(folder);
}

}  // namespace
}  // namespace loom::test
