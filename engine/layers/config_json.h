// A layer's or an optimizer's settings as a saved model's JSON holds them (engine/model/architecture.h): written from
// config() (Keras's get_config) and read back by each class's from_config (Keras's from_config), which names its
// settings and their bounds through a ConfigReader. A file may be damaged or hostile, so every value is checked.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/layers/layer.h"
#include "engine/runtime/errors.h"
#include "kernels/activation.h"

namespace loom {

// A layer's config() as a JSON object. Real-valued settings are floats, written in their shortest decimal form:
// 0.001, not the double 0.0010000000474974513; read back through double to float, each is the same float.
nlohmann::json config_json(const LayerConfig& config);
// An optimizer's config() as a JSON object: each setting a double, written in the shortest decimal form that reads
// back as the same double (Adam's betas and epsilon are doubles, as Keras's are; a float32 setting such as the
// learning rate is given here as its shortest decimal, float32_setting).
nlohmann::json config_json(const std::vector<std::pair<std::string, double>>& config);
// The double of a float32 setting's shortest decimal form: 0.001 for 0.001f, whose exact value 0.0010000000474974513
// the optimizer's JSON would otherwise show.
double float32_setting(float value);

// Limits on the sizes a file may ask for, so that a corrupt or hostile file fails with a message instead of an
// allocation that cannot succeed.
constexpr int64_t kMaxConfigWidth = int64_t{1} << 20;  // Dense units, Conv2D filters
constexpr int64_t kMaxConfigWindow = 64;               // kernel and pool sizes, strides

// A setting missing, unknown, of the wrong type or out of bounds; the message names it ("layer 2 (Dense) units must
// be an integer from 1 to 1048576, got 0").
class ConfigError : public Error {
 public:
  using Error::Error;
};

// The reader's checks, for JSON beside the settings (a saved model's own keys, its input shape). `object` must have
// exactly `keys`, or a ConfigError names `where`.
void expect_keys(const nlohmann::json& object, const std::set<std::string>& keys, const std::string& where);
// `value` as an integer within [low, high], or a ConfigError naming it `what`.
int64_t integer_in(const nlohmann::json& value, int64_t low, int64_t high, const std::string& what);

// The settings of one layer or optimizer, read by its from_config. Each read checks the value and throws a
// ConfigError naming the setting.
class ConfigReader {
 public:
  // `where` names the owner in messages ("layer 2 (Dense)", "the optimizer"); a setting's name follows `prefix`
  // ("layer 2 (Dense) units", "the optimizer's learning_rate"). `settings` must outlive the reader.
  ConfigReader(const nlohmann::json& settings, std::string where, std::string prefix);

  // The settings are exactly `keys`: from_config says so first, so that a key too many or too few is named before
  // any value is read.
  void expect_keys(const std::set<std::string>& keys) const;

  int64_t integer(const std::string& key, int64_t low, int64_t high) const;
  // Two integers from 1 to `high` (a kernel size, strides).
  std::vector<int64_t> integer_pair(const std::string& key, int64_t high) const;
  // A number within [low, high) when `high_open`, else [low, high].
  double number(const std::string& key, double low, double high, bool high_open) const;
  // An optimizer's rate: above 0 and at most 1e30.
  double positive_number(const std::string& key) const;
  // An optimizer's decay (Adam's betas): within [0, 1).
  double decay(const std::string& key) const;
  // One of `allowed`.
  std::string choice(const std::string& key, const std::set<std::string>& allowed) const;
  // An activation by the name activation_name() gives it ("linear", "relu", "softmax").
  Activation activation(const std::string& key) const;

 private:
  const nlohmann::json& value(const std::string& key) const;
  std::string setting(const std::string& key) const { return prefix_ + key; }

  const nlohmann::json& settings_;
  std::string where_, prefix_;
};

}  // namespace loom
