// The classes a saved model may name (engine/model/class_registry.h): every registered layer and optimizer makes
// itself from its settings and writes the same settings back, checks its keys, and is the class its name says; a
// name loom does not know is refused with the list of those it does. The tests walk the registry itself, so a class
// added there is tested here once it has an example below.
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/layers/config_json.h"
#include "engine/model/architecture.h"
#include "engine/model/class_registry.h"
#include "engine/optimizers/optimizer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

using nlohmann::json;

// One config per class, away from the constructors' defaults so that a setting read into the wrong place shows.
const std::map<std::string, json>& layer_examples() {
  static const std::map<std::string, json> examples{
      {"Dense", {{"units", 7}, {"activation", "relu"}}},
      {"Conv2D", {{"filters", 5}, {"kernel_size", {3, 5}}, {"padding", "same"}, {"activation", "relu"}}},
      {"MaxPooling2D", {{"pool_size", {3, 2}}, {"strides", {1, 2}}, {"padding", "valid"}}},
      {"BatchNormalization", {{"momentum", 0.9}, {"epsilon", 0.0001}}},
      {"Dropout", {{"rate", 0.3}}},
      {"Flatten", json::object()},
      {"ReLU", json::object()},
      {"Softmax", json::object()},
  };
  return examples;
}

const std::map<std::string, json>& optimizer_examples() {
  static const std::map<std::string, json> examples{
      {"Adam", {{"learning_rate", 0.002}, {"beta_1", 0.8}, {"beta_2", 0.99}, {"epsilon", 1e-6}}},
      {"SGD", {{"learning_rate", 0.05}}},
  };
  return examples;
}

// The example for `class_name`, or a failure that says to write one.
const json* example_of(const std::map<std::string, json>& examples, const std::string& class_name) {
  auto it = examples.find(class_name);
  if (it == examples.end()) {
    ADD_FAILURE() << class_name << " is registered but has no example config in " << __FILE__;
    return nullptr;
  }
  return &it->second;
}

std::string layer_where(const std::string& class_name) { return "layer 1 (" + class_name + ")"; }

std::unique_ptr<Layer> layer_from(const RegisteredClass<Layer>& registered, const json& config) {
  const std::string where = layer_where(registered.class_name);
  return registered.from_config(ConfigReader(config, where, where + " "));
}

std::unique_ptr<Optimizer> optimizer_from(const RegisteredClass<Optimizer>& registered, const json& config) {
  return registered.from_config(ConfigReader(config, "the optimizer", "the optimizer's "));
}

// Each class is found by its own name only, and messages list every one, in the registry's order.
template <class Base>
void expect_unique_and_listed(const std::vector<RegisteredClass<Base>>& classes) {
  std::set<std::string> seen;
  std::string listed;
  for (const RegisteredClass<Base>& registered : classes) {
    EXPECT_TRUE(seen.insert(registered.class_name).second) << registered.class_name << " is registered twice";
    EXPECT_EQ(find_class(classes, registered.class_name), &registered);
    listed += (listed.empty() ? "" : ", ") + registered.class_name;
  }
  EXPECT_EQ(class_names(classes), listed);
}

TEST(ClassRegistry, NamesAreUniqueAndListedInOrder) {
  expect_unique_and_listed(layer_classes());
  expect_unique_and_listed(optimizer_classes());
  EXPECT_EQ(find_class(layer_classes(), "dense"), nullptr);  // Keras's class names, exactly
  EXPECT_EQ(find_class(optimizer_classes(), "adam"), nullptr);
}

TEST(ClassRegistry, EveryLayerConfigRoundTrips) {
  for (const RegisteredClass<Layer>& registered : layer_classes()) {
    SCOPED_TRACE(registered.class_name);
    const json* example = example_of(layer_examples(), registered.class_name);
    if (!example) continue;
    std::unique_ptr<Layer> layer = layer_from(registered, *example);
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(layer->type(), registered.class_name);
    EXPECT_EQ(config_json(layer->config()).dump(), example->dump());
    // Made again from what it wrote, it writes the same: a saved model reads back as itself.
    EXPECT_EQ(config_json(layer_from(registered, config_json(layer->config()))->config()).dump(), example->dump());
  }
}

TEST(ClassRegistry, EveryOptimizerConfigRoundTrips) {
  for (const RegisteredClass<Optimizer>& registered : optimizer_classes()) {
    SCOPED_TRACE(registered.class_name);
    const json* example = example_of(optimizer_examples(), registered.class_name);
    if (!example) continue;
    std::unique_ptr<Optimizer> optimizer = optimizer_from(registered, *example);
    ASSERT_NE(optimizer, nullptr);
    EXPECT_EQ(optimizer->name(), registered.class_name);
    EXPECT_EQ(config_json(optimizer->config()).dump(), example->dump());
    EXPECT_EQ(config_json(optimizer_from(registered, config_json(optimizer->config()))->config()).dump(),
              example->dump());
  }
}

// Adam's betas and epsilon are doubles, as Keras's Python floats are, and its update takes 1 - beta from the double
// (kernels/adam.h): a saved model keeps them to the last bit, even those a float32 cannot tell apart from a
// rounder number. The learning rate, a float32, is written in its shortest form.
TEST(ClassRegistry, AdamsDoubleSettingsRoundTripExactly) {
  AdamHyper hyper;
  hyper.beta1 = static_cast<double>(0.9f);  // 0.8999999761581421, not 0.9
  hyper.beta2 = 0.99999997;                 // float32 rounds it to 0.99999994
  hyper.epsilon = 1.2345678901234e-7;
  const Adam adam(hyper);
  const json written = config_json(adam.config());
  EXPECT_EQ(written["learning_rate"].dump(), "0.001");
  std::unique_ptr<Optimizer> back = Adam::from_config(ConfigReader(written, "the optimizer", "the optimizer's "));
  EXPECT_EQ(back->config(), adam.config()) << written.dump();
}

TEST(ClassRegistry, EveryClassNamesAKeyMissingOrUnknown) {
  auto expect_refused = [](auto make, const json& config, const std::string& message) {
    try {
      make(config);
      ADD_FAILURE() << "no error; expected: " << message;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()), message);
    }
  };
  for (const RegisteredClass<Layer>& registered : layer_classes()) {
    SCOPED_TRACE(registered.class_name);
    const json* example = example_of(layer_examples(), registered.class_name);
    if (!example) continue;
    auto make = [&](const json& config) { return layer_from(registered, config); };
    const std::string where = layer_where(registered.class_name);
    for (auto it = example->begin(); it != example->end(); ++it) {
      json lacking = *example;
      lacking.erase(it.key());
      expect_refused(make, lacking, where + " lacks the setting '" + it.key() + "'");
    }
    json extra = *example;
    extra["unknown_setting"] = 1;
    expect_refused(make, extra, where + " has an unknown setting 'unknown_setting'");
    expect_refused(make, json::array(), where + " is not a JSON object");
  }
  for (const RegisteredClass<Optimizer>& registered : optimizer_classes()) {
    SCOPED_TRACE(registered.class_name);
    const json* example = example_of(optimizer_examples(), registered.class_name);
    if (!example) continue;
    auto make = [&](const json& config) { return optimizer_from(registered, config); };
    for (auto it = example->begin(); it != example->end(); ++it) {
      json lacking = *example;
      lacking.erase(it.key());
      expect_refused(make, lacking, "the optimizer lacks the setting '" + it.key() + "'");
    }
    json extra = *example;
    extra["unknown_setting"] = 1;
    expect_refused(make, extra, "the optimizer has an unknown setting 'unknown_setting'");
  }
}

// A one-layer model whose layer and optimizer are of the classes named.
std::string architecture_with(const std::string& layer_class, const std::string& optimizer_class) {
  const json dense = {{"units", 2}, {"activation", "linear"}};
  const json layer = {{"class_name", layer_class}, {"name", "dense"}, {"config", dense}};
  json doc = {{"name", "sequential"},
              {"input_shape", {4}},
              {"layers", json::array({layer})},
              {"loss", {{"name", "sparse_categorical_crossentropy"}, {"from_logits", true}}},
              {"optimizer", {{"name", optimizer_class}, {"learning_rate", 0.01}}}};
  return doc.dump();
}

TEST(ClassRegistry, AnUnknownClassIsRefusedWithTheKnownOnes) {
  EXPECT_NO_THROW(check_architecture(architecture_with("Dense", "SGD")));
  expect_one_line_error<ArchitectureError>(
      [] { check_architecture(architecture_with("Dense3D", "SGD")); },
      {"architecture: layer 1 is of class 'Dense3D', which loom cannot make (" + class_names(layer_classes()) + ")"});
  expect_one_line_error<ArchitectureError>(
      [] { check_architecture(architecture_with("Dense", "Adamax")); },
      {"architecture: the optimizer \"Adamax\" is not one loom has (" + class_names(optimizer_classes()) + ")"});
}

TEST(ClassRegistry, OneEntryMakesOneLayerOrOptimizer) {
  for (const auto& [class_name, config] : layer_examples()) {
    const std::string entry = json{{"class_name", class_name}, {"config", config}}.dump();
    std::unique_ptr<Layer> layer = layer_from_json(entry, "layer 3");
    EXPECT_EQ(layer->type(), class_name);
  }
  EXPECT_EQ(optimizer_from_json(R"({"name": "SGD", "learning_rate": 0.5})")->name(), "SGD");
  expect_one_line_error<ArchitectureError>([] { layer_from_json("{", "layer 2"); },
                                           {"architecture: layer 2 is not valid JSON"});
  expect_one_line_error<ArchitectureError>(
      [] { layer_from_json(R"({"class_name": "Dense", "config": {"units": 0, "activation": "relu"}})", "layer 4"); },
      {"layer 4 (Dense) units"});
  expect_one_line_error<ArchitectureError>([] { optimizer_from_json(R"({"name": "SGD"})"); }, {"learning_rate"});
}

}  // namespace
}  // namespace loom::test
