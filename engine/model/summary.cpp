// Sequential::summary: Keras's text table of layers, output shapes and parameter counts.
#include "engine/model/sequential.h"

namespace loom {
namespace {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// Keras 2's print_summary layout: 65 columns with fields ending at 29, 55 and 65; a field too long for its column
// (two spaces kept free) continues on the next line, as "max_pooling2d (MaxPooling2D" / ")" does in Keras.
std::string table_row(std::vector<std::string> fields) {
  const size_t ends[] = {29, 55, 65};
  auto pending = [&] {
    for (const std::string& f : fields)
      if (!f.empty()) return true;
    return false;
  };
  std::string text;
  do {
    std::string line;
    for (size_t col = 0; col < fields.size(); ++col) {
      size_t start = col ? ends[col - 1] : 0;
      size_t space = col + 1 < fields.size() ? 2 : 0;
      size_t cutoff = ends[col] - start - space;
      if (col == 0) line += " ";
      line += fields[col].substr(0, cutoff) + std::string(space, ' ');
      fields[col] = fields[col].size() > cutoff ? fields[col].substr(cutoff) : "";
      if (line.size() < ends[col]) line += std::string(ends[col] - line.size(), ' ');
    }
    text += line + "\n";
  } while (pending());
  return text;
}

}  // namespace

std::string Sequential::summary() const {
  require_built("summary");
  std::string s = "Model: \"" + name_ + "\"\n";
  s += std::string(65, '_') + "\n";
  s += table_row({"Layer (type)", "Output Shape", "Param #"});
  s += std::string(65, '=') + "\n";
  for (size_t i = 0; i < layers_.size(); ++i) {
    int64_t count = 0;
    for (const ParamSpec& p : layers_[i]->param_specs()) count += shape_numel(p.shape);
    s += table_row(
        {layers_[i]->name() + " (" + layers_[i]->type() + ")", keras_shape(shapes_[i + 1]), std::to_string(count)});
    s += std::string(65, ' ') + "\n";
  }
  s += std::string(65, '=') + "\n";
  s += "Total params: " + with_commas(store_.count()) + "\n";
  s += "Trainable params: " + with_commas(store_.trainable_count()) + "\n";
  s += "Non-trainable params: " + with_commas(store_.count() - store_.trainable_count()) + "\n";
  s += std::string(65, '_') + "\n";
  return s;
}

}  // namespace loom
