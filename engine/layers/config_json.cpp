#include "engine/layers/config_json.h"

#include <string>
#include <utility>

#include "engine/io/file_text.h"

namespace loom {

using nlohmann::json;

namespace {

json float_json(double value) { return json::parse(shortest_text(static_cast<float>(value))); }

}  // namespace

json config_json(const LayerConfig& config) {
  json object = json::object();
  for (const auto& [key, setting] : config) {
    if (auto* number = std::get_if<int64_t>(&setting))
      object[key] = *number;
    else if (auto* text = std::get_if<std::string>(&setting))
      object[key] = *text;
    else if (auto* real = std::get_if<double>(&setting))
      object[key] = float_json(*real);
    else
      object[key] = std::get<std::vector<int64_t>>(setting);
  }
  return object;
}

json config_json(const std::vector<std::pair<std::string, double>>& config) {
  json object = json::object();
  for (const auto& [key, value] : config) object[key] = json::parse(shortest_text(value));
  return object;
}

double float32_setting(float value) { return std::stod(shortest_text(value)); }

int64_t integer_in(const json& value, int64_t low, int64_t high, const std::string& what) {
  if (!value.is_number_integer() || value.get<int64_t>() < low || value.get<int64_t>() > high)
    throw ConfigError(what + " must be an integer from " + std::to_string(low) + " to " + std::to_string(high) +
                      ", got " + shown_json(value));
  return value.get<int64_t>();
}

void expect_keys(const json& object, const std::set<std::string>& keys, const std::string& where) {
  if (!object.is_object()) throw ConfigError(where + " is not a JSON object");
  for (auto it = object.begin(); it != object.end(); ++it)
    if (!keys.count(it.key()))
      throw ConfigError(where + " has an unknown setting '" + one_line(it.key(), kShownBytes) + "'");
  for (const std::string& key : keys)
    if (!object.contains(key)) throw ConfigError(where + " lacks the setting '" + key + "'");
}

ConfigReader::ConfigReader(const json& settings, std::string where, std::string prefix)
    : settings_(settings), where_(std::move(where)), prefix_(std::move(prefix)) {}

void ConfigReader::expect_keys(const std::set<std::string>& keys) const { loom::expect_keys(settings_, keys, where_); }

const json& ConfigReader::value(const std::string& key) const {
  auto it = settings_.find(key);
  if (it == settings_.end()) throw ConfigError(where_ + " lacks the setting '" + key + "'");
  return *it;
}

int64_t ConfigReader::integer(const std::string& key, int64_t low, int64_t high) const {
  return integer_in(value(key), low, high, setting(key));
}

std::vector<int64_t> ConfigReader::integer_pair(const std::string& key, int64_t high) const {
  const json& pair = value(key);
  if (!pair.is_array() || pair.size() != 2)
    throw ConfigError(setting(key) + " must be a list of two integers, got " + shown_json(pair));
  return {integer_in(pair[0], 1, high, setting(key)), integer_in(pair[1], 1, high, setting(key))};
}

double ConfigReader::number(const std::string& key, double low, double high, bool high_open) const {
  const json& number = value(key);
  const bool inside = number.is_number() && number.get<double>() >= low &&
                      (high_open ? number.get<double>() < high : number.get<double>() <= high);
  if (!inside)
    throw ConfigError(setting(key) + " must be a number in [" + float_json(low).dump() + ", " +
                      float_json(high).dump() + (high_open ? ")" : "]") + ", got " + shown_json(number));
  return number.get<double>();
}

double ConfigReader::positive_number(const std::string& key) const {
  const json& number = value(key);
  if (!number.is_number() || !(number.get<double>() > 0) || number.get<double>() > 1e30)
    throw ConfigError(setting(key) + " must be a positive number, got " + shown_json(number));
  return number.get<double>();
}

double ConfigReader::decay(const std::string& key) const {
  const json& number = value(key);
  if (!number.is_number() || !(number.get<double>() >= 0 && number.get<double>() < 1))
    throw ConfigError(setting(key) + " must lie in [0, 1), got " + shown_json(number));
  return number.get<double>();
}

std::string ConfigReader::choice(const std::string& key, const std::set<std::string>& allowed) const {
  const json& text = value(key);
  if (!text.is_string() || !allowed.count(text.get<std::string>())) {
    std::string choices;
    for (const std::string& a : allowed) choices += (choices.empty() ? "" : ", ") + a;
    throw ConfigError(setting(key) + " must be one of " + choices + ", got " + shown_json(text));
  }
  return text.get<std::string>();
}

Activation ConfigReader::activation(const std::string& key) const {
  constexpr Activation kAll[] = {Activation::None, Activation::ReLU, Activation::Softmax};
  std::set<std::string> names;
  for (Activation a : kAll) names.insert(activation_name(a));
  const std::string name = choice(key, names);
  for (Activation a : kAll)
    if (name == activation_name(a)) return a;
  return Activation::None;  // not reached: choice() took one of the names
}

}  // namespace loom
