// Trains the Keras Fashion-MNIST CNN (Conv 64 → Pool → Conv 64 → Pool → Dense 128 → Dense 10 softmax).
#include "apps/training_app.h"
#include "engine/runtime/errors.h"
#include "engine/model/models.h"

int main(int argc, char** argv) {
  CLI::App app{"Train the Fashion-MNIST CNN (two Conv2D+MaxPool blocks, Dense+ReLU, Dense 10 softmax) with Adam",
               "train_cnn"};
  loom::apps::TrainingFlags flags;
  int64_t filters = 64, dense = 128;
  loom::apps::add_training_flags(app, flags);
  app.add_option("--filters", filters, "filters in each Conv2D layer")->capture_default_str();
  app.add_option("--dense", dense, "units in the hidden Dense layer")->capture_default_str();
  return loom::apps::run_guarded(app, argc, argv, [&] {
    using loom::apps::kMaxLayerWidth;
    if (filters < 1 || filters > kMaxLayerWidth)
      throw loom::UsageError("--filters must be between 1 and " + std::to_string(kMaxLayerWidth) + ", got " +
                             std::to_string(filters));
    if (dense < 1 || dense > kMaxLayerWidth)
      throw loom::UsageError("--dense must be between 1 and " + std::to_string(kMaxLayerWidth) + ", got " +
                             std::to_string(dense));
    std::string note;
    loom::Device device = loom::apps::check_flags_and_pick_device(flags, &note);
    loom::FashionMnist data = loom::load_fashion_mnist(loom::resolve_fashion_mnist_dir(flags.data));
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    auto model = loom::make_cnn(filters, dense, device, flags.seed, adam);
    loom::apps::train_and_report(*model, loom::with_channel_axis(data.train), loom::with_channel_axis(data.test),
                                 flags, "train_cnn", note);
  });
}
