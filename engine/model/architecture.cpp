#include "engine/model/architecture.h"

#include <nlohmann/json.hpp>

#include "engine/io/file_text.h"
#include "engine/layers/config_json.h"
#include "engine/model/class_registry.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& problem) { throw ArchitectureError("architecture: " + problem); }

// ---- reading, checking every value a file could get wrong

const json& member(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) fail(where + " has no '" + key + "'");
  return *it;
}

// Layers and optimizers read their own settings (from_config, engine/layers/config_json.h), found by class name in
// engine/model/class_registry.h. What the shared checks find wrong, here or there, is a ConfigError: the reading
// below lets it through, and plan_from and parse_architecture make it the architecture's.
std::unique_ptr<Layer> layer_from(const json& entry, const std::string& where) {
  if (!entry.is_object()) fail(where + " is not a JSON object");
  const json& class_name = member(entry, "class_name", where);
  if (!class_name.is_string()) fail(where + " has a class_name that is not a string");
  const std::string type = class_name.get<std::string>();
  const json& config = member(entry, "config", where);
  const RegisteredClass<Layer>* known = find_class(layer_classes(), type);
  if (!known)
    fail(where + " is of class '" + one_line(type, kShownBytes) + "', which loom cannot make (" +
         class_names(layer_classes()) + ")");
  const std::string at = where + " (" + one_line(type, kShownBytes) + ")";
  try {
    return known->from_config(ConfigReader(config, at, at + " "));
  } catch (const UsageError& e) {  // a layer's own check (a 'same' padding with an even kernel)
    fail(at + ": " + e.what());
  }
}

std::unique_ptr<Optimizer> optimizer_from(const json& entry) {
  if (!entry.is_object()) fail("the optimizer is not a JSON object");
  const json& name = member(entry, "name", "the optimizer");
  const RegisteredClass<Optimizer>* known =
      name.is_string() ? find_class(optimizer_classes(), name.get<std::string>()) : nullptr;
  if (!known)
    fail("the optimizer " + shown_json(name) + " is not one loom has (" + class_names(optimizer_classes()) + ")");
  json settings = entry;  // the optimizer's settings sit beside its name
  settings.erase("name");
  try {
    return known->from_config(ConfigReader(settings, "the optimizer", "the optimizer's "));
  } catch (const UsageError& e) {  // the optimizer's own checks (beta_1 below 1)
    fail(std::string("the optimizer: ") + e.what());
  }
}

json parse_architecture(const std::string& text) {
  json doc;
  try {
    doc = parse_bounded_json(text, {6, 1024});  // model, layers, layer, config, kernel_size: 5 deep
    expect_keys(doc, {"name", "input_shape", "layers", "loss", "optimizer"}, "the model");
  } catch (const JsonProblem& problem) {
    fail(problem.what());
  } catch (const ConfigError& e) {
    fail(e.what());
  }
  return doc;
}

}  // namespace

std::string architecture_json(Sequential& model) {
  model.require_compiled("architecture");
  json layers = json::array();
  for (const auto& layer : model.layers())
    layers.push_back(
        {{"class_name", layer->type()}, {"name", layer->name()}, {"config", config_json(layer->config())}});
  const auto* loss = dynamic_cast<const SparseCategoricalCrossentropy*>(&model.loss());
  if (!loss) throw UsageError("architecture: loss '" + model.loss().name() + "' cannot be saved");
  json optimizer = config_json(model.optimizer().config());
  optimizer["name"] = model.optimizer().name();
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

Plan read_plan(const std::string& text) {
  json doc = parse_architecture(text);
  if (!doc["name"].is_string() || doc["name"].get<std::string>().empty() || doc["name"].get<std::string>().size() > 64)
    fail("the model's name must be a string of 1 to 64 characters");
  const json& input = doc["input_shape"];
  if (!input.is_array() || input.empty() || input.size() > 3)
    fail("input_shape must be a list of 1 to 3 integers, got " + shown_json(input));
  Shape input_shape;
  for (const json& d : input) input_shape.push_back(integer_in(d, 1, 4096, "input_shape"));
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
    if (name != names[i]) fail(where + " is named " + shown_json(name) + ", but loom names it '" + names[i] + "'");
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

Plan plan_from(const std::string& text) {
  try {
    return read_plan(text);
  } catch (const ConfigError& e) {
    fail(e.what());
  }
}

}  // namespace

void check_architecture(const std::string& text) { plan_from(text); }

namespace {

// The JSON of one entry, with what its reading finds wrong made the architecture's.
template <class Make>
auto made_from(const std::string& text, const std::string& where, Make make) {
  json entry;
  try {
    entry = json::parse(text);
  } catch (const json::exception&) {
    fail(where + " is not valid JSON");
  }
  try {
    return make(entry);
  } catch (const ConfigError& e) {
    fail(e.what());
  }
}

}  // namespace

std::unique_ptr<Layer> layer_from_json(const std::string& entry, const std::string& where) {
  return made_from(entry, where, [&](const json& e) { return layer_from(e, where); });
}

std::unique_ptr<Optimizer> optimizer_from_json(const std::string& entry) {
  return made_from(entry, "the optimizer", [](const json& e) { return optimizer_from(e); });
}

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
