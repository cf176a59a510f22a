#include "engine/layers/flatten.h"

#include "engine/layers/config_json.h"

namespace loom {

std::unique_ptr<Layer> Flatten::from_config(const ConfigReader& config) {
  config.expect_keys({});
  return std::make_unique<Flatten>();
}

}  // namespace loom
