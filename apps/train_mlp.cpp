// Trains the Keras basic-classification MLP (Flatten → Dense 128 ReLU → Dense 10) on Fashion-MNIST.
#include <sstream>

#include "apps/number_flags.h"
#include "apps/training_app.h"
#include "engine/io/file_text.h"
#include "engine/model/models.h"
#include "engine/runtime/errors.h"

namespace {

// "--hidden 256,128" → {256, 128}
std::vector<int64_t> parse_hidden(const std::string& text) {
  if (text.empty() || text.back() == ',')
    throw loom::UsageError("--hidden must be layer widths separated by commas (e.g. 128 or 256,128), got '" +
                           loom::one_line(text, 40) + "'");
  std::vector<int64_t> units;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    units.push_back(loom::apps::parse_whole_number("--hidden", item, 1, loom::apps::kMaxLayerWidth));
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
    loom::FashionMnist data = loom::apps::load_training_data(flags);
    loom::apps::check_training_memory(loom::mlp_layers(units), loom::kMlpInputShape, flags, data, device,
                                      "use smaller --hidden widths or a smaller --batch-size");
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    auto model = loom::make_mlp(units, device, flags.seed, adam);
    loom::apps::train_and_report(*model, data.train, data.test, flags, "train_mlp", note);
  });
}
