// loom used as a library, the way the README shows it: the Keras tutorial's MLP trained on Fashion-MNIST and its
// test accuracy printed. With --min-accuracy it fails under that floor, so CI holds the whole path (files, model,
// training, evaluation) to a result and not only to running.
//
//   fashion_mnist_mlp [--data DIR] [--epochs 10] [--device auto|cpu|cuda] [--min-accuracy X]
//
// Exit codes as loom's programs use them: 0 done (and at least the floor), 1 under the floor or a runtime failure,
// 2 bad usage; and 77 when the data set is not installed, which ctest reports as skipped.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "engine/data/fashion_mnist.h"
#include "engine/model/models.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"
#include "engine/training/fit_options.h"
#include "engine/training/inference.h"
#include "engine/training/trainer.h"

namespace {

constexpr int kDataSetMissing = 77;

struct Flags {
  std::string data;  // empty: $FASHION_MNIST_DIR, then the Debian package's directory
  std::string device = "auto";
  int epochs = 10;
  std::optional<double> min_accuracy;
};

// Whole-string parses: "1e3" for --epochs or "0.8x" for --min-accuracy is refused, never read in part.
int parse_epochs(const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < 1 || value > 1000000)
    throw loom::UsageError("--epochs: expected a whole number from 1 to 1000000, got '" + text + "'");
  return static_cast<int>(value);
}

double parse_accuracy(const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= 0 && value <= 1))
    throw loom::UsageError("--min-accuracy: expected a number from 0 to 1, got '" + text + "'");
  return value;
}

Flags parse_flags(int argc, char** argv) {
  Flags flags;
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag != "--data" && flag != "--epochs" && flag != "--device" && flag != "--min-accuracy")
      throw loom::UsageError("unknown argument '" + flag +
                             "' (usage: fashion_mnist_mlp [--data DIR] [--epochs N] [--device D] [--min-accuracy X])");
    if (!given.insert(flag).second) throw loom::UsageError(flag + " given twice (give it once)");
    if (i + 1 == argc || argv[i + 1][0] == '\0') throw loom::UsageError(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--data") flags.data = value;
    if (flag == "--device") flags.device = value;
    if (flag == "--epochs") flags.epochs = parse_epochs(value);
    if (flag == "--min-accuracy") flags.min_accuracy = parse_accuracy(value);
  }
  return flags;
}

int run(const Flags& flags) {
  std::string fallback_note;
  const loom::Device device = loom::resolve_device(flags.device, &fallback_note);
  if (!fallback_note.empty()) std::cerr << fallback_note << "\n";

  loom::FashionMnist data;
  try {
    data = loom::load_fashion_mnist(loom::resolve_fashion_mnist_dir(flags.data));
  } catch (const loom::UsageError& e) {  // not installed (a damaged file is loom::Error and fails below)
    std::cerr << "fashion_mnist_mlp: skipped: " << e.what() << "\n";
    return kDataSetMissing;
  }

  // Flatten → Dense(128, relu) → Dense(10), Adam and cross-entropy from logits: 101,770 parameters.
  std::unique_ptr<loom::Sequential> model = loom::make_mlp({128}, device, /*seed=*/0);
  std::cout << model->summary();

  loom::FitOptions options;  // batch 32, shuffled from seed 0, a progress bar per epoch
  options.epochs = flags.epochs;
  loom::Trainer trainer(*model);
  loom::History history = trainer.fit(data.train, options);
  loom::Evaluation test = loom::evaluate(*model, data.test, /*batch_size=*/32, /*verbose=*/1);
  std::printf("\nTest accuracy: %.4f (%zu %s of training)\n", test.accuracy, history.size(),
              history.size() == 1 ? "epoch" : "epochs");

  if (flags.min_accuracy && test.accuracy < *flags.min_accuracy) {
    std::fprintf(stderr, "fashion_mnist_mlp: test accuracy %.4f is under --min-accuracy %g\n", test.accuracy,
                 *flags.min_accuracy);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_flags(argc, argv));
  } catch (const loom::UsageError& e) {
    std::cerr << "fashion_mnist_mlp: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist_mlp: " << e.what() << "\n";
    return 1;
  }
}
