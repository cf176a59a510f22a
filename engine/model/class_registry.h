// The layer and optimizer classes a saved model may name ("class_name": "Dense", the optimizer's "name": "Adam"),
// each with the function that makes one from its settings. To let files hold a new layer or optimizer: give the class
// its config() and a static from_config (engine/layers/config_json.h), and add its line to the table in
// class_registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/layers/layer.h"
#include "engine/optimizers/optimizer.h"

namespace loom {

template <class Base>
struct RegisteredClass {
  std::string class_name;  // Keras's, as the made object's type() (a layer) or name() (an optimizer) gives it
  std::unique_ptr<Base> (*from_config)(const ConfigReader& config);
};

// The classes, in the order messages list them.
const std::vector<RegisteredClass<Layer>>& layer_classes();
const std::vector<RegisteredClass<Optimizer>>& optimizer_classes();

// The class in `classes` called `class_name`, or null.
template <class Base>
const RegisteredClass<Base>* find_class(const std::vector<RegisteredClass<Base>>& classes,
                                        const std::string& class_name) {
  for (const RegisteredClass<Base>& registered : classes)
    if (registered.class_name == class_name) return &registered;
  return nullptr;
}

// "Dense, Conv2D, ...": what loom can make, for the message that refuses anything else.
template <class Base>
std::string class_names(const std::vector<RegisteredClass<Base>>& classes) {
  std::string names;
  for (const RegisteredClass<Base>& registered : classes) names += (names.empty() ? "" : ", ") + registered.class_name;
  return names;
}

}  // namespace loom
