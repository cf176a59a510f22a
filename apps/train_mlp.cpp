// Trains the Keras basic-classification MLP (Flatten → Dense 128 ReLU → Dense 10) on Fashion-MNIST.
#include <sstream>

#include "apps/training_app.h"
#include "engine/runtime/errors.h"
#include "engine/model/models.h"

namespace {

// "--hidden 256,128" → {256, 128}
std::vector<int64_t> parse_hidden(const std::string& text) {
  if (!text.empty() && text.back() == ',')
    throw loom::UsageError("--hidden: '" + text + "' ends with a comma (expected e.g. 128 or 256,128)");
  std::vector<int64_t> units;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || value <= 0)
      throw loom::UsageError("--hidden: '" + item + "' is not a positive layer width (expected e.g. 128 or 256,128)");
    if (value > loom::apps::kMaxLayerWidth)
      throw loom::UsageError("--hidden: width " + item + " is too large (at most " +
                             std::to_string(loom::apps::kMaxLayerWidth) + ")");
    units.push_back(value);
  }
  if (units.empty()) throw loom::UsageError("--hidden: give at least one layer width, e.g. 128");
  return units;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Train the Fashion-MNIST MLP (Flatten, Dense+ReLU layers, Dense 10) with Adam", "train_mlp"};
  loom::apps::TrainingFlags flags;
  std::string hidden = "128";
  loom::apps::add_training_flags(app, flags);
  app.add_option("--hidden", hidden, "hidden layer widths, comma-separated (e.g. 512 or 256,128)")
      ->capture_default_str();
  return loom::apps::run_guarded(app, argc, argv, [&] {
    std::vector<int64_t> units = parse_hidden(hidden);
    std::string note;
    loom::Device device = loom::apps::check_flags_and_pick_device(flags, &note);
    loom::FashionMnist data = loom::load_fashion_mnist(loom::resolve_fashion_mnist_dir(flags.data));
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    auto model = loom::make_mlp(units, device, flags.seed, adam);
    loom::apps::train_and_report(*model, data.train, data.test, flags, "train_mlp", note);
  });
}
