// loom used as a library, the way the README shows it: the Keras tutorial's MLP trained on Fashion-MNIST and its
// test accuracy printed. With --min-accuracy it fails under that floor, so CI holds the whole path (files, model,
// training, evaluation) to a result and not only to running.
//
//   fashion_mnist_mlp [--data DIR] [--epochs 10] [--device auto|cpu|cuda] [--min-accuracy X]
//
// Exit codes as loom's programs use them: 0 done (and at least the floor), 1 under the floor or a runtime failure,
// 2 bad usage; and 77 when the data set is not installed, which ctest reports as skipped.
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

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

// CLI11 reads the flags; a bad one is one line and exit 2, as in loom's programs. Returns false after --help.
bool parse_flags(int argc, char** argv, Flags& flags) {
  CLI::App app{"Train the Keras tutorial's MLP on Fashion-MNIST with loom and print its test accuracy",
               "fashion_mnist_mlp"};
  app.add_option("--data", flags.data, "Fashion-MNIST directory");
  app.add_option("--epochs", flags.epochs, "training epochs")->check(CLI::Range(1, 1000000));
  app.add_option("--device", flags.device, "auto, cuda or cpu");
  app.add_option("--min-accuracy", flags.min_accuracy, "fail (exit 1) under this test accuracy")
      ->check(CLI::Range(0.0, 1.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return false;
  } catch (const CLI::ParseError& e) {
    throw loom::UsageError(e.what());
  }
  return true;
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
    Flags flags;
    return parse_flags(argc, argv, flags) ? run(flags) : 0;
  } catch (const loom::UsageError& e) {
    std::cerr << "fashion_mnist_mlp: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "fashion_mnist_mlp: " << e.what() << "\n";
    return 1;
  }
}
