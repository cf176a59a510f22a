// Turns a model saved by train_mlp or train_cnn (--save or --checkpoint) into an ONNX file that ONNX Runtime,
// TensorRT and other ONNX readers run (engine/model/onnx_export.h says what the graph holds). The architecture comes
// from the file; no data set or device is needed.
#include <iostream>
#include <string>

#include "apps/checkpoint_note.h"
#include "apps/file_flags.h"
#include "apps/run_guarded.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/model/model_file.h"
#include "engine/model/onnx_export.h"
#include "engine/runtime/errors.h"

namespace {

std::string batch_shape(const loom::Shape& sample) {
  std::string text = "[N";
  for (int64_t d : sample) text += ", " + std::to_string(d);
  return text + "]";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Write a model saved by train_mlp or train_cnn as an ONNX file (for ONNX Runtime, TensorRT, ...)",
               "export_onnx"};
  std::string model_path, output;
  loom::apps::add_path_option(app, "--model", model_path, "the model: a --save or --checkpoint file (safetensors)")
      ->required();
  loom::apps::add_path_option(app, "--output", output, "the ONNX file to write (FILE.onnx)")->required();
  return loom::apps::run_guarded(app, argc, argv, [&] {
    if (!loom::has_extension(output, ".onnx"))
      throw loom::UsageError("--output: file '" + loom::one_line(output) + "' must end in .onnx");
    loom::check_writable_path(output, "--output: file");
    loom::apps::require_existing_file("--model", model_path);
    if (loom::apps::same_file(output, model_path))
      throw loom::UsageError("--output would replace the file '" + loom::one_line(model_path) + "' that --model reads");
    const loom::SafetensorsFile file = loom::open_model_file(model_path);
    auto model = loom::load_model(file, loom::Device::CPU);
    const std::string output_name = loom::export_onnx(*model, output, loom::read_run_description(file));
    std::cout << "wrote '" << loom::one_line(output) << "': input 'images' float " << batch_shape(model->input_shape())
              << " (pixels / 255), output '" << output_name << "' float " << batch_shape(model->output_shape())
              << ", ONNX opset " << loom::kOnnxOpset << "\n";
    // Said once the file is written, so that a failed export says one line only.
    const std::string note = loom::apps::checkpoint_weights_note(file, model_path);
    if (!note.empty()) std::cerr << "export_onnx: " << note << "\n";
  });
}
