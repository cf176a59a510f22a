#include "engine/model/architecture.h"

#include <nlohmann/json.hpp>
#include <set>

#include "engine/io/file_text.h"
#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& problem) { throw ArchitectureError("architecture: " + problem); }

// A float setting (a learning rate) in its shortest decimal form: 0.001, not the double 0.0010000000474974513.
// Read back through double to float, it is the same float.
json float_json(double value) { return json::parse(shortest_text(static_cast<float>(value))); }

json setting_json(const LayerSetting& setting) {
  if (auto* number = std::get_if<int64_t>(&setting)) return *number;
  if (auto* text = std::get_if<std::string>(&setting)) return *text;
  if (auto* real = std::get_if<double>(&setting)) return float_json(*real);
  return std::get<std::vector<int64_t>>(setting);
}

// ---- reading, checking every value a file could get wrong

const json& member(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail(where + " has no '" + key + "'");
  return *it;
}

void expect_keys(const json& object, const std::set<std::string>& keys, const std::string& where) {
  if (!object.is_object()) fail(where + " is not a JSON object");
  for (auto it = object.begin(); it != object.end(); ++it)
    if (!keys.count(it.key())) fail(where + " has an unknown setting '" + one_line(it.key(), kShownBytes) + "'");
  for (const std::string& key : keys)
    if (!object.contains(key)) fail(where + " lacks the setting '" + key + "'");
}

int64_t bounded_int(const json& value, int64_t low, int64_t high, const std::string& what) {
  if (!value.is_number_integer() || value.get<int64_t>() < low || value.get<int64_t>() > high)
    fail(what + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
         shown_json(value));
  return value.get<int64_t>();
}

// A real-valued setting within [low, high) (`high_open`) or [low, high].
double bounded_real(const json& value, double low, double high, bool high_open, const std::string& what) {
  const bool inside = value.is_number() && value.get<double>() >= low &&
                      (high_open ? value.get<double>() < high : value.get<double>() <= high);
  if (!inside)
    fail(what + " must be a number in [" + float_json(low).dump() + ", " + float_json(high).dump() +
         (high_open ? ")" : "]") + ", got " + shown_json(value));
  return value.get<double>();
}

std::vector<int64_t> pair_of(const json& value, int64_t high, const std::string& what) {
  if (!value.is_array() || value.size() != 2) fail(what + " must be a list of two integers, got " + shown_json(value));
  return {bounded_int(value[0], 1, high, what), bounded_int(value[1], 1, high, what)};
}

std::string text_of(const json& value, const std::set<std::string>& allowed, const std::string& what) {
  if (!value.is_string() || !allowed.count(value.get<std::string>())) {
    std::string choices;
    for (const std::string& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
    fail(what + " must be one of " + choices + ", got " + shown_json(value));
  }
  return value.get<std::string>();
}

Activation activation_of(const json& value, const std::string& where) {
  std::string name = text_of(value, {"linear", "relu", "softmax"}, where + " activation");
  return name == "relu" ? Activation::ReLU : name == "softmax" ? Activation::Softmax : Activation::None;
}

constexpr int64_t kMaxWidth = int64_t{1} << 20;
constexpr int64_t kMaxWindow = 64;

std::unique_ptr<Layer> layer_from(const json& entry, const std::string& where) {
  if (!entry.is_object()) fail(where + " is not a JSON object");
  const json& class_name = member(entry, "class_name", where);
  if (!class_name.is_string()) fail(where + " has a class_name that is not a string");
  const std::string type = class_name.get<std::string>();
  const json& config = member(entry, "config", where);
  const std::string at = where + " (" + one_line(type, kShownBytes) + ")";
  try {
    if (type == "Dense") {
      expect_keys(config, {"units", "activation"}, at);
      return std::make_unique<Dense>(bounded_int(config["units"], 1, kMaxWidth, at + " units"),
                                     activation_of(config["activation"], at));
    }
    if (type == "Conv2D") {
      expect_keys(config, {"filters", "kernel_size", "padding", "activation"}, at);
      std::vector<int64_t> kernel = pair_of(config["kernel_size"], kMaxWindow, at + " kernel_size");
      Padding padding = text_of(config["padding"], {"valid", "same"}, at + " padding") == "same" ? Padding::Same
                                                                                               : Padding::Valid;
      return std::make_unique<Conv2D>(bounded_int(config["filters"], 1, kMaxWidth, at + " filters"), kernel[0],
                                      kernel[1], padding, activation_of(config["activation"], at));
    }
    if (type == "MaxPooling2D") {
      expect_keys(config, {"pool_size", "strides", "padding"}, at);
      std::vector<int64_t> pool = pair_of(config["pool_size"], kMaxWindow, at + " pool_size");
      std::vector<int64_t> strides = pair_of(config["strides"], kMaxWindow, at + " strides");
      text_of(config["padding"], {"valid"}, at + " padding");
      return std::make_unique<MaxPool2D>(pool[0], pool[1], strides[0], strides[1]);
    }
    if (type == "Dropout") {
      expect_keys(config, {"rate"}, at);
      return std::make_unique<Dropout>(bounded_real(config["rate"], 0, 1, true, at + " rate"));
    }
    if (type == "BatchNormalization") {
      expect_keys(config, {"momentum", "epsilon"}, at);
      return std::make_unique<BatchNormalization>(
          static_cast<float>(bounded_real(config["momentum"], 0, 1, true, at + " momentum")),
          static_cast<float>(bounded_real(config["epsilon"], 0, 1, false, at + " epsilon")));
    }
    if (type == "Flatten" || type == "ReLU" || type == "Softmax") {
      expect_keys(config, {}, at);
      if (type == "Flatten") return std::make_unique<Flatten>();
      if (type == "ReLU") return std::make_unique<ReLU>();
      return std::make_unique<Softmax>();
    }
  } catch (const UsageError& e) {  // a layer's own check (a 'same' padding with an even kernel)
    fail(at + ": " + e.what());
  }
  fail(where + " is of class '" + one_line(type, kShownBytes) +
       "', which loom cannot make (Dense, Conv2D, MaxPooling2D, BatchNormalization, Dropout, Flatten, ReLU, "
       "Softmax)");
}

std::unique_ptr<Optimizer> optimizer_from(const json& entry) {
  if (!entry.is_object()) fail("the optimizer is not a JSON object");
  const json& name = member(entry, "name", "the optimizer");
  auto rate = [](const json& value, const std::string& what) {
    if (!value.is_number() || !(value.get<double>() > 0) || value.get<double>() > 1e30)
      fail("the optimizer's " + what + " must be a positive number, got " + shown_json(value));
    return static_cast<float>(value.get<double>());
  };
  auto decay = [](const json& value, const std::string& what) {  // Adam's betas: 0 is allowed, 1 is not
    if (!value.is_number() || !(value.get<double>() >= 0 && value.get<double>() < 1))
      fail("the optimizer's " + what + " must lie in [0, 1), got " + shown_json(value));
    return static_cast<float>(value.get<double>());
  };
  try {
    if (name == "Adam") {
      expect_keys(entry, {"name", "learning_rate", "beta_1", "beta_2", "epsilon"}, "the optimizer");
      AdamHyper hyper;
      hyper.learning_rate = rate(entry["learning_rate"], "learning_rate");
      hyper.beta1 = decay(entry["beta_1"], "beta_1");
      hyper.beta2 = decay(entry["beta_2"], "beta_2");
      hyper.epsilon = rate(entry["epsilon"], "epsilon");
      return std::make_unique<Adam>(hyper);
    }
    if (name == "SGD") {
      expect_keys(entry, {"name", "learning_rate"}, "the optimizer");
      return std::make_unique<SGD>(rate(entry["learning_rate"], "learning_rate"));
    }
  } catch (const UsageError& e) {  // the optimizer's own checks (beta_1 below 1)
    fail(std::string("the optimizer: ") + e.what());
  }
  fail("the optimizer " + shown_json(name) + " is not one loom has (Adam, SGD)");
}

json parse_architecture(const std::string& text) {
  json doc;
  try {
    doc = parse_bounded_json(text, {6, 1024});  // model, layers, layer, config, kernel_size: 5 deep
  } catch (const JsonProblem& problem) {
    fail(problem.what());
  }
  expect_keys(doc, {"name", "input_shape", "layers", "loss", "optimizer"}, "the model");
  return doc;
}

}  // namespace

std::string architecture_json(Sequential& model) {
  model.require_compiled("architecture");
  json layers = json::array();
  for (const auto& layer : model.layers()) {
    json config = json::object();
    for (const auto& [key, setting] : layer->config()) config[key] = setting_json(setting);
    layers.push_back({{"class_name", layer->type()}, {"name", layer->name()}, {"config", config}});
  }
  const auto* loss = dynamic_cast<const SparseCategoricalCrossentropy*>(&model.loss());
  if (!loss) throw UsageError("architecture: loss '" + model.loss().name() + "' cannot be saved");
  json optimizer = {{"name", model.optimizer().name()}};
  for (const auto& [key, value] : model.optimizer().config()) optimizer[key] = float_json(value);
  json doc = {{"name", model.name()},
              {"input_shape", model.input_shape()},
              {"layers", layers},
              {"loss", {{"name", loss->name()}, {"from_logits", loss->from_logits()}}},
              {"optimizer", optimizer}};
  return doc.dump();
}

namespace {

// An architecture read and checked, its layers made and sized, nothing allocated yet.
struct Plan {
  std::unique_ptr<Sequential> model;  // layers added, not built
  Shape input_shape;
  bool from_logits = false;
  std::unique_ptr<Optimizer> optimizer;
};

Plan plan_from(const std::string& text) {
  json doc = parse_architecture(text);
  if (!doc["name"].is_string() || doc["name"].get<std::string>().empty() || doc["name"].get<std::string>().size() > 64)
    fail("the model's name must be a string of 1 to 64 characters");
  const json& input = doc["input_shape"];
  if (!input.is_array() || input.empty() || input.size() > 3)
    fail("input_shape must be a list of 1 to 3 integers, got " + shown_json(input));
  Shape input_shape;
  for (const json& d : input) input_shape.push_back(bounded_int(d, 1, 4096, "input_shape"));
  const json& layers = doc["layers"];
  if (!layers.is_array() || layers.empty() || static_cast<int64_t>(layers.size()) > kMaxArchitectureLayers)
    fail("layers must be a list of 1 to " + std::to_string(kMaxArchitectureLayers) + " layers");

  // The layers are sized once here, before the model allocates anything, so that an impossible stack or a model too
  // large for loom is refused by a message, not by a failed allocation.
  Plan plan;
  plan.model = std::make_unique<Sequential>(doc["name"].get<std::string>());
  plan.input_shape = input_shape;
  std::vector<std::unique_ptr<Layer>> made;
  for (size_t i = 0; i < layers.size(); ++i) made.push_back(layer_from(layers[i], "layer " + std::to_string(i + 1)));
  // Parameters are saved under the names loom gives the layers; a file that says otherwise is not loom's.
  const std::vector<std::string> names = automatic_layer_names(made);
  Shape shape = input_shape;
  int64_t parameters = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string where = "layer " + std::to_string(i + 1);
    std::unique_ptr<Layer>& layer = made[i];
    const json& name = member(layers[i], "name", where);
    if (name != names[i])
      fail(where + " is named " + shown_json(name) + ", but loom names it '" + names[i] + "'");
    try {
      shape = layer->build(shape);
    } catch (const UsageError& e) {
      fail(where + " does not fit its input " + shape_str(shape) + ": " + e.what());
    }
    for (const ParamSpec& spec : layer->param_specs()) {
      parameters += shape_numel(spec.shape);
      if (parameters > kMaxArchitectureParameters)
        fail("the model has more than " + std::to_string(kMaxArchitectureParameters) + " parameters");
    }
    plan.model->add(std::move(layer));
  }

  const json& loss = doc["loss"];
  expect_keys(loss, {"name", "from_logits"}, "the loss");
  if (loss["name"] != "sparse_categorical_crossentropy")
    fail("the loss " + shown_json(loss["name"]) + " is not one loom has (sparse_categorical_crossentropy)");
  if (!loss["from_logits"].is_boolean()) fail("the loss's from_logits must be true or false");
  plan.from_logits = loss["from_logits"].get<bool>();
  plan.optimizer = optimizer_from(doc["optimizer"]);
  return plan;
}

}  // namespace

void check_architecture(const std::string& text) { plan_from(text); }

std::unique_ptr<Sequential> model_from_architecture(const std::string& text, Device device) {
  Plan plan = plan_from(text);
  try {
    plan.model->build(plan.input_shape, device, 0);
    plan.model->compile(std::move(plan.optimizer), SparseCategoricalCrossentropy{plan.from_logits});
  } catch (const UsageError& e) {
    fail(e.what());
  }
  return std::move(plan.model);
}

namespace {

// "Flatten, Dense 128, Dense 10": a model's layers in a few words each, for messages; long models are cut short.
std::string layers_text(const json& layers) {
  constexpr size_t kShownLayers = 8;
  std::string text;
  for (size_t i = 0; i < layers.size() && i < kShownLayers; ++i) {
    const json& layer = layers[i];
    std::string kind = layer.value("class_name", "?");
    const json& config = layer.contains("config") && layer["config"].is_object() ? layer["config"] : json::object();
    for (const char* size : {"units", "filters"})
      if (config.contains(size) && config[size].is_number_integer()) kind += " " + config[size].dump();
    text += (i == 0 ? "" : ", ") + one_line(kind, kShownBytes);
  }
  if (layers.size() > kShownLayers) text += ", ...";
  return text;
}

}  // namespace

std::string architecture_difference(const std::string& saved_text, const std::string& current_text,
                                    bool with_optimizer) {
  const json saved = parse_architecture(saved_text), current = parse_architecture(current_text);
  auto differ = [](const std::string& what, const json& a, const json& b) {
    return what + " " + shown_json(a) + " in the file, " + shown_json(b) + " here";
  };
  if (saved["input_shape"] != current["input_shape"])
    return differ("input shape", saved["input_shape"], current["input_shape"]);
  const json &a = saved["layers"], &b = current["layers"];
  // Layers added or missing first: comparing the first layers that differ would blame a setting of a layer that is
  // only out of place ("--hidden 128,10" against a file of "--hidden 128").
  if (a.size() != b.size())
    return "the file holds " + count_text(static_cast<long long>(a.size()), "layer") + " (" + layers_text(a) +
           "), this model " + std::to_string(b.size()) + " (" + layers_text(b) + ")";
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string where = "layer " + std::to_string(i + 1) + " ('" + b[i].value("name", "?") + "')";
    if (a[i].value("class_name", "") != b[i].value("class_name", ""))
      return where + " is " + a[i].value("class_name", "?") + " in the file, " + b[i].value("class_name", "?") +
             " here";
    const json &ca = a[i]["config"], &cb = b[i]["config"];
    for (auto it = cb.begin(); it != cb.end(); ++it)
      if (!ca.contains(it.key()) || ca[it.key()] != it.value())
        return where + " has " + differ(one_line(it.key(), kShownBytes), ca.value(it.key(), json()), it.value());
  }
  std::vector<std::string> parts{"loss"};
  if (with_optimizer) parts.push_back("optimizer");
  for (const std::string& part : parts)
    for (auto it = current[part].begin(); it != current[part].end(); ++it)
      if (!saved[part].contains(it.key()) || saved[part][it.key()] != it.value())
        return "the " + part + " has " + differ(it.key(), saved[part].value(it.key(), json()), it.value());
  return "";
}

}  // namespace loom
