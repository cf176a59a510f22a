// Where every app that reads Fashion-MNIST reads it from: --data (declared with add_path_option, apps/file_flags.h,
// so that --data '' is refused rather than replaced by $FASHION_MNIST_DIR or the default), else the environment,
// else the package's directory; messages about the data set say who chose the place it was read from.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/data/fashion_mnist.h"

namespace loom::apps {

// Fashion-MNIST from `flag_value` (--data) if given, else $FASHION_MNIST_DIR if set and non-empty, else the Debian
// package's directory (resolve_fashion_mnist_dir). A failure of load_fashion_mnist keeps its type (UsageError: exit 2,
// Error: exit 1) and says what chose the place: "--data: ...", "$FASHION_MNIST_DIR: ...". Images of another size than
// 28x28 are a loom::Error naming the directory, before any model is built or anything printed.
FashionMnist load_data_set(const std::string& flag_value);

// The same for the test set alone (evaluating a saved model needs no training files); `train` stays empty.
FashionMnist load_test_set(const std::string& flag_value);

}  // namespace loom::apps
