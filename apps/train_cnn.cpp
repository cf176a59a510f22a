// Trains the Keras Fashion-MNIST CNN (Conv 64 → Pool → Conv 64 → Pool → Dense 128 → Dense 10 softmax).
#include "apps/data_flag.h"
#include "apps/number_flags.h"
#include "apps/training_app.h"
#include "engine/runtime/errors.h"
#include "engine/model/models.h"

int main(int argc, char** argv) {
  CLI::App app{"Train the Fashion-MNIST CNN (two Conv2D+MaxPool blocks, Dense+ReLU, Dense 10 softmax) with Adam",
               "train_cnn"};
  loom::apps::TrainingFlags flags;
  int64_t filters = 64, dense = 128;
  loom::apps::add_training_flags(app, flags);
  using loom::apps::kMaxLayerWidth;
  loom::apps::add_whole_number_option(app, "--filters", filters, 1, "filters in each Conv2D layer", kMaxLayerWidth);
  loom::apps::add_whole_number_option(app, "--dense", dense, 1, "units in the hidden Dense layer", kMaxLayerWidth);
  return loom::apps::run_guarded(app, argc, argv, [&] {
    std::string note;
    loom::Device device = loom::apps::check_flags_and_pick_device(flags, &note);
    loom::FashionMnist data = loom::apps::load_data_set(flags.data);
    loom::apps::check_training_memory(loom::cnn_layers(filters, dense), loom::kCnnInputShape, flags, data, device,
                                      "use a smaller --batch-size, --filters or --dense");
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    auto model = loom::make_cnn(filters, dense, device, flags.seed, adam);
    loom::apps::train_and_report(*model, loom::with_channel_axis(data.train), loom::with_channel_axis(data.test),
                                 flags, "train_cnn", note);
  });
}
