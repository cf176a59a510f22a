// Classifies pictures with a model saved by train_mlp or train_cnn (--save or --checkpoint), as the tutorials'
// predict step does, or evaluates it on the Fashion-MNIST test set. The architecture comes from the file.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "apps/checkpoint_note.h"
#include "apps/data_flag.h"
#include "apps/file_flags.h"
#include "apps/number_flags.h"
#include "apps/run_guarded.h"
#include "apps/threads_flag.h"
#include "engine/data/fashion_mnist.h"
#include "engine/data/idx_reader.h"
#include "engine/data/picture_file.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/model/model_file.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"
#include "engine/training/inference.h"

namespace {

using loom::Tensor;
using loom::UsageError;

struct Flags {
  std::string model, idx, data, output, device = "auto";
  std::vector<std::string> pictures;
  int64_t index = -1;
  bool index_given = false, invert = false;
  int64_t batch_size = 32;
  int threads = 0;  // --threads; 0: not given
};

// What is classified: images uint8 [n, 28, 28], a name for each, and the true labels when known.
struct Inputs {
  Tensor images;
  std::vector<std::string> names;
  std::vector<int> labels;  // empty when unknown
};

Inputs pictures(const Flags& flags) {
  Inputs in;
  const int64_t side = loom::kPictureSide;
  in.images = Tensor({static_cast<int64_t>(flags.pictures.size()), side, side}, loom::Device::CPU, loom::DType::U8);
  for (size_t i = 0; i < flags.pictures.size(); ++i) {
    Tensor picture = loom::read_picture(flags.pictures[i], {flags.invert});
    in.images.rows(static_cast<int64_t>(i), static_cast<int64_t>(i) + 1).copy_from(picture);
    in.names.push_back(flags.pictures[i]);
  }
  return in;
}

Inputs idx_image(const Flags& flags) {
  loom::IdxArray array = loom::read_idx(flags.idx);
  if (array.dims.size() != 3)
    throw UsageError("--idx: '" + loom::one_line(flags.idx) + "' holds an array of rank " +
                     std::to_string(array.dims.size()) + ", not images (rank 3: count, rows, columns)");
  if (flags.index >= array.dims[0])
    throw UsageError("--index " + std::to_string(flags.index) + " is outside the " + std::to_string(array.dims[0]) +
                     " images of '" + loom::one_line(flags.idx) + "' (0 to " + std::to_string(array.dims[0] - 1) + ")");
  const int64_t pixels = array.dims[1] * array.dims[2];
  Inputs in;
  in.images = Tensor({1, array.dims[1], array.dims[2]}, loom::Device::CPU, loom::DType::U8);
  std::copy_n(array.values.begin() + flags.index * pixels, pixels, in.images.data<uint8_t>());
  in.names.push_back(flags.idx + " [" + std::to_string(flags.index) + "]");
  return in;
}

Inputs test_set(const Flags& flags) {
  loom::FashionMnist data = loom::apps::load_test_set(flags.data);  // the training files are not needed
  Inputs in;
  in.images = std::move(data.test.images);
  const uint8_t* labels = data.test.labels.data<uint8_t>();
  for (int64_t i = 0; i < in.images.dim(0); ++i) {
    in.names.push_back(std::to_string(i));
    in.labels.push_back(labels[i]);
  }
  return in;
}

std::string class_name(int64_t k, int64_t classes) {
  if (classes == static_cast<int64_t>(loom::kFashionMnistClassNames.size())) return loom::kFashionMnistClassNames.at(k);
  return "class " + std::to_string(k);
}

int64_t arg_max(const float* p, int64_t classes) {
  int64_t best = 0;
  for (int64_t k = 1; k < classes; ++k)
    if (p[k] > p[best]) best = k;
  return best;
}

// One row per image: its name (or test-set index), true label (empty when unknown), predicted class and the
// probabilities, each exact enough to compare with another implementation.
std::string predictions_csv(const Inputs& in, const Tensor& probs) {
  const int64_t n = probs.dim(0), classes = probs.dim(1);
  std::string csv = "image,label,predicted";
  for (int64_t k = 0; k < classes; ++k) csv += ",p" + std::to_string(k);
  csv += "\n";
  char number[32];
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs.f32() + i * classes;
    std::string name = in.names[static_cast<size_t>(i)];
    if (name.find_first_of(",\"\n") != std::string::npos) {  // CSV quoting for file names
      std::string quoted = "\"";
      for (char c : name) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
      name = quoted + "\"";
    }
    csv += name + "," + (in.labels.empty() ? "" : std::to_string(in.labels[static_cast<size_t>(i)])) + "," +
           std::to_string(arg_max(p, classes));
    for (int64_t k = 0; k < classes; ++k) {
      std::snprintf(number, sizeof number, ",%.9g", p[k]);
      csv += number;
    }
    csv += "\n";
  }
  return csv;
}

void print_predictions(const Inputs& in, const Tensor& probs) {
  const int64_t classes = probs.dim(1);
  for (int64_t i = 0; i < probs.dim(0); ++i) {
    const float* p = probs.f32() + i * classes;
    const int64_t best = arg_max(p, classes);
    // A picture's name is a path the user typed: control bytes spelled out, never sent raw to the terminal.
    std::printf("%s: %s (%.4f)\n", loom::one_line(in.names[static_cast<size_t>(i)]).c_str(),
                class_name(best, classes).c_str(), p[best]);
    for (int64_t k = 0; k < classes; ++k)
      std::printf("  %-12s %.4f%s\n", class_name(k, classes).c_str(), p[k], k == best ? "  <" : "");
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Classify PNG pictures or Fashion-MNIST images with a model saved by train_mlp or train_cnn, or "
      "evaluate it on the test set",
      "predict"};
  Flags flags;
  loom::apps::add_path_option(app, "--model", flags.model, "the model: a --save or --checkpoint file (safetensors)")
      ->required();
  loom::apps::refusing_empty_paths(
      app.add_option("pictures", flags.pictures,
                     "PNG pictures to classify (any size, gray or colour: made 28x28 gray, longer side scaled to 28)"));
  loom::apps::add_path_option(app, "--idx", flags.idx,
                              "classify one image of this IDX file (e.g. t10k-images-idx3-ubyte.gz)");
  loom::apps::add_whole_number_option(app, "--index", flags.index, 0, "which image of --idx, from 0")
      ->default_str("")
      ->each([&flags](const std::string&) { flags.index_given = true; });
  loom::apps::add_path_option(app, "--data", flags.data, "evaluate on the Fashion-MNIST test set in this directory");
  app.add_flag("--invert", flags.invert, "pictures are dark things on a light background (most photos): invert them");
  loom::apps::add_path_option(app, "--output", flags.output,
                              "also write every prediction to FILE.csv (image,label,predicted,p0..)");
  loom::apps::add_whole_number_option(app, "--batch-size", flags.batch_size, 1, "images per forward pass");
  app.add_option("--device", flags.device, "auto, cuda or cpu")->capture_default_str();
  loom::apps::add_threads_option(app, flags.threads);
  return loom::apps::run_guarded(app, argc, argv, [&] {
    if (flags.idx.empty() && flags.index_given) throw UsageError("--index needs --idx FILE");
    const int modes = !flags.pictures.empty() + !flags.idx.empty() + !flags.data.empty();
    if (modes != 1)
      throw UsageError("give exactly one of: PNG pictures, --idx FILE --index I, or --data DIR (got " +
                       std::to_string(modes) + ")");
    if (!flags.idx.empty() && !flags.index_given) throw UsageError("--idx needs --index I (which image, from 0)");
    if (flags.invert && flags.pictures.empty()) throw UsageError("--invert applies to PNG pictures only");
    if (!flags.output.empty()) {
      if (!loom::has_extension(flags.output, ".csv"))
        throw UsageError("--output: file '" + loom::one_line(flags.output) + "' must end in .csv");
      loom::check_writable_path(flags.output, "--output: file");
    }
    loom::apps::require_existing_file("--model", flags.model);
    if (!flags.idx.empty()) loom::apps::require_existing_file("--idx", flags.idx);
    if (!flags.output.empty()) {  // the predictions must not replace what they are made from
      std::vector<std::pair<std::string, std::string>> inputs = {{"--model", flags.model}, {"--idx", flags.idx}};
      for (const std::string& picture : flags.pictures) inputs.emplace_back("a picture", picture);
      for (const auto& [input, path] : inputs)
        if (!path.empty() && loom::apps::same_file(flags.output, path))
          throw UsageError("--output would replace the file '" + loom::one_line(path) + "' that " + input + " reads");
    }
    loom::apps::check_threads_flag(flags.threads, flags.device);
    std::string note;
    const loom::Device device = loom::resolve_device(flags.device, &note);
    loom::apps::use_threads_flag(flags.threads, device, &note);
    const loom::SafetensorsFile file = loom::open_model_file(flags.model);
    auto model = loom::load_model(file, device);
    // The run printed, evaluated and --save'd the best epoch's weights: say that these are others.
    const std::string weights_note = loom::apps::checkpoint_weights_note(file, flags.model);
    Inputs in = !flags.pictures.empty() ? pictures(flags) : !flags.idx.empty() ? idx_image(flags) : test_set(flags);

    loom::Shape shape{in.images.dim(0)};
    shape.insert(shape.end(), model->input_shape().begin(), model->input_shape().end());
    if (loom::shape_numel(shape) != in.images.numel())
      throw UsageError("the model in '" + loom::one_line(flags.model) + "' takes inputs of shape " +
                       loom::shape_str(model->input_shape()) + ", not " + std::to_string(in.images.dim(1)) + "x" +
                       std::to_string(in.images.dim(2)) + " gray images");
    if (!note.empty()) std::cerr << "predict: " << note << "\n";
    if (!weights_note.empty()) std::cerr << "predict: " << weights_note << "\n";
    Tensor images = in.images.reshaped(shape);
    Tensor probs = loom::predict(*model, images, flags.batch_size);
    if (!flags.output.empty()) loom::write_file_atomically(flags.output, predictions_csv(in, probs));
    if (flags.data.empty()) {
      print_predictions(in, probs);
      return;
    }
    loom::LabeledImages test{images.view(), Tensor({images.dim(0)}, loom::Device::CPU, loom::DType::U8)};
    std::copy(in.labels.begin(), in.labels.end(), test.labels.data<uint8_t>());
    loom::Evaluation eval = loom::evaluate(*model, test, flags.batch_size, 1, std::cout);
    std::printf("\nTest accuracy: %.4f\n", eval.accuracy);
  });
}
