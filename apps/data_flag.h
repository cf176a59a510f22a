// The --data flag of every app that reads Fashion-MNIST, and where the data set comes from when it is not given:
// messages about the data set say who chose the place it was read from.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/data/fashion_mnist.h"

namespace loom::apps {

// --data DIR. An empty value is refused while parsing (loom::UsageError), rather than read as "not given" and
// silently replaced by $FASHION_MNIST_DIR or the default.
CLI::Option* add_data_option(CLI::App& app, std::string& dir, const std::string& help);

// Fashion-MNIST from `flag_value` (--data) if given, else $FASHION_MNIST_DIR if set and non-empty, else the Debian
// package's directory (resolve_fashion_mnist_dir). A failure of load_fashion_mnist keeps its type (UsageError: exit 2,
// Error: exit 1) and says what chose the place: "--data: ...", "$FASHION_MNIST_DIR: ...". Images of another size than
// 28x28 are a loom::Error naming the directory, before any model is built or anything printed.
FashionMnist load_data_set(const std::string& flag_value);

}  // namespace loom::apps
