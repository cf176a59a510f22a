#include "apps/training_app.h"

#include <cmath>
#include <cstdio>
#include <iostream>

#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"

namespace loom::apps {

void add_training_flags(CLI::App& app, TrainingFlags& flags) {
  app.add_option("--data", flags.data,
                 "Fashion-MNIST directory (default: $FASHION_MNIST_DIR, then /usr/share/datasets/fashion-mnist)");
  app.add_option("--epochs", flags.epochs, "training epochs")->capture_default_str();
  app.add_option("--batch-size", flags.batch_size, "samples per training step")->capture_default_str();
  app.add_option("--lr", flags.learning_rate, "Adam learning rate")->capture_default_str();
  app.add_option("--seed", flags.seed, "seed for initialisation and shuffling")->capture_default_str();
  app.add_option("--device", flags.device, "auto, cuda or cpu")->capture_default_str();
  app.add_flag("--tf32", flags.tf32, "GPU: let matrix products use TF32 tensor cores (faster, ~10-bit mantissa)");
  app.add_flag("--no-graph", flags.no_graph, "GPU: launch every kernel of every step instead of a CUDA graph");
}

Device check_flags_and_pick_device(const TrainingFlags& flags, std::string* note) {
  if (flags.epochs < 1) throw UsageError("--epochs must be at least 1, got " + std::to_string(flags.epochs));
  if (flags.batch_size < 1)
    throw UsageError("--batch-size must be at least 1, got " + std::to_string(flags.batch_size));
  if (!(flags.learning_rate > 0.f) || !std::isfinite(flags.learning_rate))
    throw UsageError("--lr must be a positive number, got " + std::to_string(flags.learning_rate));
  if (flags.tf32 && flags.device == "cpu")
    throw UsageError("--tf32 needs the GPU (it selects tensor-core math in cuBLAS and cuDNN)");
  Device device = resolve_device(flags.device, note);
  if (device == Device::CUDA)
    CudaContext::get().set_tf32(flags.tf32);
  else if (flags.tf32)
    *note += " (--tf32 has no effect there)";
  return device;
}

void train_and_report(Sequential& model, const LabeledImages& train, const LabeledImages& test,
                      const TrainingFlags& flags, const std::string& program, const std::string& note) {
  if (!note.empty()) std::cerr << program << ": " << note << "\n";
  std::cout << model.summary() << std::flush;
  FitOptions options;
  options.epochs = flags.epochs;
  options.batch_size = flags.batch_size;
  options.seed = flags.seed;
  options.cuda_graph = !flags.no_graph;
  model.fit(train, options);

  Evaluation eval = model.evaluate(test, flags.batch_size, 1, std::cout);
  std::printf("\nTest accuracy: %.4f\n", eval.accuracy);

  Tensor first = test.images.rows(0, 1);
  Tensor probs = model.predict(first);
  const float* p = probs.f32();
  int64_t classes = probs.dim(1), best = 0;
  for (int64_t j = 1; j < classes; ++j)
    if (p[j] > p[best]) best = j;
  int truth = test.labels.data<uint8_t>()[0];
  std::printf("First test image: predicted %s (%.4f), true %s\n", kFashionMnistClassNames.at(best), p[best],
              kFashionMnistClassNames.at(truth));
}

}  // namespace loom::apps
