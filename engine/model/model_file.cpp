#include "engine/model/model_file.h"

#include <cmath>

#include "engine/io/file_text.h"
#include "engine/model/architecture.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

constexpr const char* kFormat = "loom";
constexpr const char* kFormatVersion = "1";
constexpr size_t kMaxRunEntries = 256;  // a run description longer than this is not one loom wrote

}  // namespace

Shape keras_shape(const Parameter& p) {
  if (p.keras_axes.empty()) return p.shape;
  Shape shape;
  for (int axis : p.keras_axes) shape.push_back(p.shape.at(static_cast<size_t>(axis)));
  return shape;
}

namespace {

// Walks the elements of `p` in Keras's row-major order and calls visit(keras_index, loom_index) for each.
template <class Visit>
void for_each_element(const Parameter& p, Visit visit) {
  const int64_t n = shape_numel(p.shape);
  if (p.keras_axes.empty()) {
    for (int64_t i = 0; i < n; ++i) visit(i, i);
    return;
  }
  const size_t rank = p.shape.size();
  std::vector<int64_t> loom_stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) loom_stride[d - 1] = loom_stride[d] * p.shape[d];
  const Shape keras = keras_shape(p);
  std::vector<int64_t> index(rank, 0);  // Keras's multi-index of element k
  for (int64_t k = 0; k < n; ++k) {
    int64_t l = 0;
    for (size_t i = 0; i < rank; ++i) l += index[i] * loom_stride[static_cast<size_t>(p.keras_axes[i])];
    visit(k, l);
    for (size_t i = rank; i-- > 0;) {
      if (++index[i] < keras[i]) break;
      index[i] = 0;
    }
  }
}

bool is_saved(const Parameter& p, bool trainable_only) { return p.trainable || !trainable_only; }

bool ends_with(const std::string& text, const std::string& end) {
  return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

// One hand-edited NaN would otherwise come out as "T-shirt/top (nan)", an accuracy of 0.1 or a run that diverges
// epochs later: refused where it is read, with the element so that it can be found in the file.
void check_values(const SafetensorsFile& file, const std::string& name, const std::vector<float>& values,
                  bool variance) {
  for (size_t k = 0; k < values.size(); ++k) {
    const float v = values[k];
    if (std::isfinite(v) && (!variance || v >= 0)) continue;
    const std::string what = std::isnan(v) ? "a NaN" : std::isinf(v) ? (v > 0 ? "+inf" : "-inf") : shortest_text(v);
    file.fail("tensor '" + name + "' holds " + what + " at element " + std::to_string(k) + " (of " +
              std::to_string(values.size()) + ", from 0, in the file's order): " +
              (std::isfinite(v) ? "a variance is never negative" : "a trained model's values are finite"));
  }
}

}  // namespace

SafetensorsFile open_model_file(const std::string& path) {
  SafetensorsFile file = SafetensorsFile::read(path);
  const auto& meta = file.metadata();
  auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat)
    file.fail(
        "has no \"format\": \"loom\" in its metadata: not a loom model (or written by a tool that dropped "
        "the metadata)");
  if (file.metadata("format_version") != kFormatVersion)
    file.fail("is format version '" + file.metadata("format_version") + "'; this loom reads version " + kFormatVersion);
  const std::string& content = file.metadata("content");
  if (content != "weights" && content != "checkpoint")
    file.fail("holds '" + one_line(content, kShownBytes) + "', not weights or a checkpoint");
  file.metadata("architecture");
  return file;
}

SafetensorsWriter model_file_writer(Sequential& model, const std::string& content, const RunDescription& run) {
  SafetensorsWriter writer;
  writer.set_metadata("format", kFormat);
  writer.set_metadata("format_version", kFormatVersion);
  writer.set_metadata("content", content);
  const std::string architecture = architecture_json(model);
  try {  // loom never writes a model it would refuse to read
    check_architecture(architecture);
  } catch (const ArchitectureError& e) {
    throw UsageError(std::string("this model cannot be saved: its ") + e.what());
  }
  writer.set_metadata("architecture", architecture);
  // Paths in a description may be any bytes: stray ones become U+FFFD rather than failing the save.
  if (!run.empty())
    writer.set_metadata("run", nlohmann::json(run).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  return writer;
}

std::string described_value(const RunDescription& run, const std::string& key) {
  for (const auto& [name, value] : run)
    if (name == key) return value;
  return "";
}

RunDescription read_run_description(const SafetensorsFile& file) {
  if (!file.metadata().count("run")) return {};
  nlohmann::json doc;
  try {
    doc = parse_bounded_json(file.metadata("run"), {2, kMaxRunEntries, 4 * kMaxRunEntries});
  } catch (const JsonProblem& problem) {
    file.fail(std::string("its run description ") + problem.what());
  }
  RunDescription run;
  if (!doc.is_array()) file.fail("its run description is not a list");
  for (const nlohmann::json& entry : doc) {
    if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() || !entry[1].is_string())
      file.fail("its run description holds " + shown_json(entry) + ", not a [name, value] pair of texts");
    run.emplace_back(entry[0].get<std::string>(), entry[1].get<std::string>());
  }
  return run;
}

void check_same_architecture(const SafetensorsFile& file, Sequential& model, bool with_optimizer) {
  std::string difference;
  try {
    check_architecture(file.metadata("architecture"));
    difference = architecture_difference(file.metadata("architecture"), architecture_json(model), with_optimizer);
  } catch (const ArchitectureError& e) {
    file.fail(e.what());
  }
  if (!difference.empty()) throw UsageError("'" + one_line(file.source()) + "' holds another model: " + difference);
}

std::vector<float> keras_values(const Parameter& p, const std::vector<float>& flat) {
  if (p.offset + shape_numel(p.shape) > static_cast<int64_t>(flat.size()))
    throw Error("'" + p.name + "': the values end before the parameter does");
  std::vector<float> keras(static_cast<size_t>(shape_numel(p.shape)));
  for_each_element(p, [&](int64_t k, int64_t l) { keras[static_cast<size_t>(k)] = flat[p.offset + l]; });
  return keras;
}

void put_keras_values(const Parameter& p, const std::vector<float>& keras, std::vector<float>& flat) {
  if (static_cast<int64_t>(keras.size()) != shape_numel(p.shape) ||
      p.offset + shape_numel(p.shape) > static_cast<int64_t>(flat.size()))
    throw Error("'" + p.name + "': " + std::to_string(keras.size()) + " values do not fit the parameter's " +
                shape_str(keras_shape(p)));
  for_each_element(p, [&](int64_t k, int64_t l) { flat[p.offset + l] = keras[static_cast<size_t>(k)]; });
}

void add_parameter_tensors(SafetensorsWriter& writer, const ParameterStore& store, const std::vector<float>& flat,
                           const std::string& suffix, bool trainable_only) {
  for (const Parameter& p : store.parameters()) {
    if (!is_saved(p, trainable_only)) continue;
    writer.add(p.name + suffix, keras_shape(p), keras_values(p, flat));
  }
}

std::vector<float> read_parameter_tensors(const SafetensorsFile& file, const ParameterStore& store,
                                          const std::string& suffix, bool trainable_only, bool variances) {
  int64_t end = 0;
  for (const Parameter& p : store.parameters())
    if (is_saved(p, trainable_only)) end = std::max(end, p.offset + shape_numel(p.shape));
  std::vector<float> flat(static_cast<size_t>(end), 0.f);
  for (const Parameter& p : store.parameters()) {
    if (!is_saved(p, trainable_only)) continue;
    const std::string name = p.name + suffix;
    const SafetensorsTensor* tensor = file.find(name);
    if (!tensor) file.fail("has no tensor '" + name + "'");
    const Shape want = keras_shape(p);
    if (tensor->dtype != DType::F32 || tensor->shape != want)
      file.fail("tensor '" + name + "' is " + dtype_name(tensor->dtype) + " " + shape_str(tensor->shape) +
                "; the model needs float32 " + shape_str(want));
    const std::vector<float> keras = file.floats(*tensor);
    check_values(file, name, keras, variances || ends_with(p.name, ".moving_variance"));
    put_keras_values(p, keras, flat);
  }
  return flat;
}

void check_tensor_names(const SafetensorsFile& file, const ParameterStore& store,
                        const std::vector<std::string>& suffixes) {
  for (const SafetensorsTensor& tensor : file.tensors()) {
    bool known = false;
    for (const Parameter& p : store.parameters())
      for (const std::string& suffix : suffixes) known = known || tensor.name == p.name + suffix;
    if (!known) file.fail("tensor '" + tensor.name + "' belongs to no layer of the model");
  }
}

void save_weights(Sequential& model, const std::string& path, const RunDescription& run) {
  SafetensorsWriter writer = model_file_writer(model, "weights", run);
  add_parameter_tensors(writer, model.parameter_store(), model.parameters().to_vector(), "", false);
  writer.write(path);
}

namespace {

// The parameters of `file` into `model`, whose architecture is the file's.
void put_parameters(const SafetensorsFile& file, Sequential& model) {
  // A weights file holds the parameters and nothing else; a checkpoint's other tensors are its loader's business.
  if (file.metadata("content") == "weights") check_tensor_names(file, model.parameter_store(), {""});
  std::vector<float> values = read_parameter_tensors(file, model.parameter_store(), "", false);
  Tensor& params = model.parameters();
  params.copy_from(Tensor::wrap(values.data(), params.shape(), Device::CPU));
}

}  // namespace

void load_weights(Sequential& model, const std::string& path) {
  model.require_compiled("load_weights");
  SafetensorsFile file = open_model_file(path);
  check_same_architecture(file, model, false);
  put_parameters(file, model);
}

std::unique_ptr<Sequential> load_model(const std::string& path, Device device) {
  return load_model(open_model_file(path), device);
}

std::unique_ptr<Sequential> load_model(const SafetensorsFile& file, Device device) {
  std::unique_ptr<Sequential> model;
  try {
    model = model_from_architecture(file.metadata("architecture"), device);
  } catch (const ArchitectureError& e) {
    file.fail(e.what());
  }
  put_parameters(file, *model);
  return model;
}

}  // namespace loom
