// Trains the Keras Fashion-MNIST CNN (Conv 64 → Pool → Conv 64 → Pool → Dense 128 → Dense 10 softmax), or with
// --preset best a deeper CNN with batch normalization, dropout, augmentation and a cosine learning rate.
#include <string>

#include "apps/number_flags.h"
#include "apps/training_app.h"
#include "engine/io/file_text.h"
#include "engine/model/models.h"
#include "engine/runtime/errors.h"

namespace {

// The recipe of --preset best: each setting applies unless its flag is given.
struct BestPreset {
  int epochs = 20;
  float learning_rate = 2e-3f;
  const char* lr_schedule = "cosine";
  int64_t random_shift = 2;
  bool random_flip = true;
};

void apply_preset(const CLI::App& app, const std::string& preset, loom::apps::TrainingFlags& flags) {
  if (preset != "tutorial" && preset != "best")
    throw loom::UsageError("--preset must be tutorial or best, got '" + loom::one_line(preset) + "'");
  flags.preset = preset;
  if (preset == "tutorial") return;
  for (const char* flag : {"--filters", "--dense"})
    if (app.count(flag))
      throw loom::UsageError(std::string(flag) + " sizes the tutorial's CNN; --preset best has its own layers");
  const BestPreset best;
  if (!app.count("--epochs")) flags.epochs = best.epochs;
  if (!app.count("--lr")) flags.learning_rate = best.learning_rate;
  if (!app.count("--lr-schedule")) flags.lr_schedule = best.lr_schedule;
  if (!app.count("--random-shift")) flags.random_shift = best.random_shift;
  if (!app.count("--random-flip")) flags.random_flip = best.random_flip;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Train the Fashion-MNIST CNN (two Conv2D+MaxPool blocks, Dense+ReLU, Dense 10 softmax) with Adam, or "
      "a deeper one with --preset best",
      "train_cnn"};
  loom::apps::TrainingFlags flags;
  int64_t filters = 64, dense = 128;
  std::string preset = "tutorial";
  loom::apps::add_training_flags(app, flags);
  using loom::apps::kMaxLayerWidth;
  loom::apps::add_whole_number_option(app, "--filters", filters, 1, "filters in each Conv2D layer", kMaxLayerWidth);
  loom::apps::add_whole_number_option(app, "--dense", dense, 1, "units in the hidden Dense layer", kMaxLayerWidth);
  app.add_option("--preset", preset,
                 "tutorial: the Keras tutorial's CNN; best: three Conv2D+BatchNorm+ReLU+MaxPool blocks (32, 64, 128 "
                 "filters), Dense 256+BatchNorm+ReLU+Dropout 0.3, Dense 10, trained with random shifts of 2 pixels "
                 "and flips, --lr 0.002 decaying to 0 on a cosine over 20 epochs (each also settable by its flag)")
      ->capture_default_str();
  return loom::apps::run_guarded(app, argc, argv, [&] {
    apply_preset(app, preset, flags);
    std::string note;
    loom::Device device = loom::apps::check_flags_and_pick_device(flags, &note);
    loom::FashionMnist data = loom::apps::load_training_data(flags);
    const bool best = preset == "best";
    loom::apps::check_training_memory(best ? loom::best_cnn_layers() : loom::cnn_layers(filters, dense),
                                      loom::kCnnInputShape, flags, data, device,
                                      best ? "use a smaller --batch-size"
                                           : "use a smaller --batch-size, --filters or "
                                             "--dense");
    loom::AdamHyper adam;
    adam.learning_rate = flags.learning_rate;
    auto model =
        best ? loom::make_best_cnn(device, flags.seed, adam) : loom::make_cnn(filters, dense, device, flags.seed, adam);
    loom::apps::train_and_report(*model, loom::with_channel_axis(data.train), loom::with_channel_axis(data.test), flags,
                                 "train_cnn", note);
  });
}
