#include "engine/model/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <exception>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "engine/data/fashion_mnist.h"
#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/model/architecture.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

constexpr const char* kInputName = "images";
constexpr const char* kProbabilities = "probabilities";
constexpr const char* kLogits = "logits";
constexpr const char* kOutputs = "outputs";
// The IR version of opset 17 (ONNX 1.12), written as such whichever ONNX library loom is built with.
constexpr int64_t kOnnxIrVersion = 8;
constexpr const char* kBatchDimension = "N";
constexpr const char* kInputScaling = "pixels scaled to 0..1 (uint8 / 255), as in training";

// One of a layer's config() settings, which the layer itself wrote (so a missing or mistyped one is loom's bug).
template <class T>
const T& setting(const Layer& layer, const LayerConfig& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end() || !std::holds_alternative<T>(it->second))
    throw Error("ONNX export: layer '" + layer.name() + "' has no setting '" + key + "' of the expected type");
  return std::get<T>(it->second);
}

void set_shape(onnx::ValueInfoProto& info, const std::string& name, const std::vector<int64_t>& per_sample) {
  info.set_name(name);
  onnx::TypeProto_Tensor* tensor = info.mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  onnx::TensorShapeProto* shape = tensor->mutable_shape();
  shape->add_dim()->set_dim_param(kBatchDimension);
  for (int64_t d : per_sample) shape->add_dim()->set_dim_value(d);
}

// Builds the graph layer by layer. `current_` names the tensor the next layer reads; `sample_` is its per-sample
// shape in loom's order (channels last) and `channels_first_` says whether the tensor itself holds it as NCHW.
class GraphWriter {
 public:
  GraphWriter(Sequential& model, onnx::GraphProto& graph)
      : model_(model), graph_(graph), values_(model.parameters().to_vector()) {
    current_ = kInputName;
    sample_ = model.input_shape();
    set_shape(*graph_.add_input(), kInputName, sample_);
    graph_.mutable_input(0)->set_doc_string(kInputScaling);
  }

  void add(const Layer& layer, const Shape& output) {
    const LayerConfig config = layer.config();
    const std::string type = layer.type();
    const std::string& name = layer.name();
    const std::string input = current_;
    if (type == "Dense") {
      current_ = node("Gemm", name + "/linear", {current_, parameter(name + ".kernel"), parameter(name + ".bias")});
      activation(layer, setting<std::string>(layer, config, "activation"));
    } else if (type == "Conv2D") {
      to_channels_first(name);
      const auto& kernel = setting<std::vector<int64_t>>(layer, config, "kernel_size");
      const bool same = setting<std::string>(layer, config, "padding") == "same";
      // loom's "same" pads (k - 1) / 2 on each side (kernels/conv2d.h); the declared shapes below check it.
      const int64_t pad_h = same ? (kernel.at(0) - 1) / 2 : 0, pad_w = same ? (kernel.at(1) - 1) / 2 : 0;
      onnx::NodeProto& conv =
          new_node("Conv", name + "/linear", {current_, conv_kernel(name + ".kernel"), parameter(name + ".bias")});
      ints(conv, "kernel_shape", kernel);
      ints(conv, "pads", {pad_h, pad_w, pad_h, pad_w});
      ints(conv, "strides", {1, 1});
      current_ = conv.output(0);
      activation(layer, setting<std::string>(layer, config, "activation"));
    } else if (type == "MaxPooling2D") {
      to_channels_first(name);
      onnx::NodeProto& pool = new_node("MaxPool", name, {current_});
      ints(pool, "kernel_shape", setting<std::vector<int64_t>>(layer, config, "pool_size"));
      ints(pool, "strides", setting<std::vector<int64_t>>(layer, config, "strides"));
      current_ = pool.output(0);
    } else if (type == "BatchNormalization") {
      // ONNX normalizes axis 1, loom the last axis: an image map goes channels-first (and stays so for the layers
      // after it); a sample of 2, 4 or more axes has its last axis moved to axis 1 and back.
      const int64_t rank = static_cast<int64_t>(sample_.size());
      const bool moved = rank >= 2 && rank != 3;
      if (rank == 3) to_channels_first(name);
      std::vector<int64_t> there{0, rank}, back{0};
      for (int64_t axis = 1; axis < rank; ++axis) there.push_back(axis);
      for (int64_t axis = 2; axis <= rank; ++axis) back.push_back(axis);
      back.push_back(1);
      if (moved) transpose(name + "/channels_to_axis_1", there);
      onnx::NodeProto& norm = new_node("BatchNormalization", moved ? name + "/normalized" : name,
                                       {current_, parameter(name + ".gamma"), parameter(name + ".beta"),
                                        parameter(name + ".moving_mean"), parameter(name + ".moving_variance")});
      onnx::AttributeProto* epsilon = norm.add_attribute();
      epsilon->set_name("epsilon");
      epsilon->set_type(onnx::AttributeProto_AttributeType_FLOAT);
      epsilon->set_f(static_cast<float>(setting<double>(layer, config, "epsilon")));
      current_ = norm.output(0);
      if (moved) transpose(name, back);
    } else if (type == "Flatten") {
      to_channels_last(name);
      onnx::NodeProto& flatten = new_node("Flatten", name, {current_});
      int_attribute(flatten, "axis", 1);
      current_ = flatten.output(0);
    } else if (type == "ReLU") {
      current_ = node("Relu", name, {current_});
    } else if (type == "Softmax") {
      softmax(name);
    } else if (type == "Dropout") {
      // The identity at inference: nothing to write.
    } else {
      throw UsageError("layer '" + name + "' (" + type + ") has no ONNX form in this loom");
    }
    sample_ = output;
    if (current_ != input) declared_.emplace_back(current_, layout(sample_));
  }

  // Back to loom's layout, the final Softmax where the loss takes logits (when `probabilities`), and the graph's
  // output, whose name it returns: "probabilities" where the graph ends in a softmax, "logits" where it gives the
  // logits a loss takes, "outputs" otherwise (a model compiled for probabilities whose last layer has no softmax).
  std::string finish(bool probabilities) {
    to_channels_last("output");
    const bool logits = model_.loss().output_is_logits() && !model_.loss().took_over_softmax();
    if (logits && probabilities) softmax(kProbabilities);
    const bool ends_in_softmax = current_ != kInputName && graph_.node(graph_.node_size() - 1).op_type() == "Softmax";
    const std::string output = ends_in_softmax ? kProbabilities : logits ? kLogits : kOutputs;
    if (current_ == kInputName) current_ = node("Identity", output, {current_});
    graph_.mutable_node(graph_.node_size() - 1)->set_output(0, output);
    set_shape(*graph_.add_output(), output, sample_);
    // Every other layer's output with the shape loom gives it: strict shape inference holds the graph to them.
    for (const auto& [name, shape] : declared_)
      if (name != current_) set_shape(*graph_.add_value_info(), name, shape);
    return output;
  }

 private:
  // The per-sample shape as the current tensor holds it.
  Shape layout(const Shape& sample) const {
    if (!channels_first_) return sample;
    return {sample.at(2), sample.at(0), sample.at(1)};
  }

  onnx::NodeProto& new_node(const std::string& op, const std::string& output, const std::vector<std::string>& inputs) {
    onnx::NodeProto* n = graph_.add_node();
    n->set_op_type(op);
    n->set_name(output);
    for (const std::string& input : inputs) n->add_input(input);
    n->add_output(output);
    return *n;
  }
  std::string node(const std::string& op, const std::string& output, const std::vector<std::string>& inputs) {
    return new_node(op, output, inputs).output(0);
  }

  static void ints(onnx::NodeProto& n, const std::string& name, const std::vector<int64_t>& values) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INTS);
    for (int64_t v : values) a->add_ints(v);
  }
  static void int_attribute(onnx::NodeProto& n, const std::string& name, int64_t value) {
    onnx::AttributeProto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto_AttributeType_INT);
    a->set_i(value);
  }

  void activation(const Layer& layer, const std::string& name) {
    if (name == "relu") {
      current_ = node("Relu", layer.name(), {current_});
    } else if (name == "softmax") {
      softmax(layer.name());
    } else if (name == "linear") {
      graph_.mutable_node(graph_.node_size() - 1)->set_output(0, layer.name());
      graph_.mutable_node(graph_.node_size() - 1)->set_name(layer.name());
      current_ = layer.name();
    } else {
      throw UsageError("layer '" + layer.name() + "' has activation '" + name + "', which has no ONNX form here");
    }
  }

  // Softmax over the channels: loom's last axis, which a channels-first tensor holds as axis 1.
  void softmax(const std::string& output) {
    onnx::NodeProto& s = new_node("Softmax", output, {current_});
    int_attribute(s, "axis", channels_first_ && sample_.size() == 3 ? 1 : -1);
    current_ = s.output(0);
  }

  void transpose(const std::string& output, const std::vector<int64_t>& perm) {
    onnx::NodeProto& t = new_node("Transpose", output, {current_});
    ints(t, "perm", perm);
    current_ = t.output(0);
  }
  void to_channels_first(const std::string& layer) {
    if (channels_first_) return;
    if (sample_.size() != 3)
      throw UsageError("layer '" + layer + "' needs (height, width, channels) input, got " + shape_str(sample_));
    transpose(layer + "/to_channels_first", {0, 3, 1, 2});
    channels_first_ = true;
  }
  void to_channels_last(const std::string& layer) {
    if (!channels_first_) return;
    transpose(layer + "/to_channels_last", {0, 2, 3, 1});
    channels_first_ = false;
  }

  // A parameter as an initializer named as in the saved file ("dense.kernel"), in the file's (Keras's) layout.
  std::string parameter(const std::string& name) {
    const Parameter& p = model_.parameter_store().find(name);
    return initializer(name, keras_shape(p), keras_values(p, values_));
  }
  // A Conv2D kernel in ONNX's [out, in, kh, kw], from loom's [out, kh, kw, in].
  std::string conv_kernel(const std::string& name) {
    const Parameter& p = model_.parameter_store().find(name);
    const int64_t out = p.shape.at(0), kh = p.shape.at(1), kw = p.shape.at(2), in = p.shape.at(3);
    std::vector<float> oihw(static_cast<size_t>(out * in * kh * kw));
    for (int64_t o = 0; o < out; ++o)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          for (int64_t i = 0; i < in; ++i)
            oihw[static_cast<size_t>(((o * in + i) * kh + y) * kw + x)] =
                values_[static_cast<size_t>(p.offset + ((o * kh + y) * kw + x) * in + i)];
    return initializer(name, {out, in, kh, kw}, oihw);
  }
  std::string initializer(const std::string& name, const Shape& shape, const std::vector<float>& values) {
    onnx::TensorProto* t = graph_.add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto_DataType_FLOAT);
    for (int64_t d : shape) t->add_dims(d);
    t->mutable_float_data()->Add(values.begin(), values.end());
    return name;
  }

  Sequential& model_;
  onnx::GraphProto& graph_;
  std::vector<float> values_;  // the model's parameters, on the host
  std::string current_;
  Shape sample_;
  bool channels_first_ = false;
  std::vector<std::pair<std::string, Shape>> declared_;  // each layer's output, as the tensor holds it
};

void add_metadata(onnx::ModelProto& proto, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto* entry = proto.add_metadata_props();
  entry->set_key(key);
  entry->set_value(value);
}

// ONNX's own checks: the model's structure, then types and shapes inferred strictly, each held to what the graph
// declares. A failure is loom's bug, said as such.
void check_with_onnx(onnx::ModelProto& proto) {
  try {
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(/*check_type=*/true, /*strict_mode=*/1));
  } catch (const std::exception& e) {
    throw Error("ONNX export: the graph fails ONNX's checks (a loom bug): " + one_line(e.what()));
  }
}

}  // namespace

OnnxModel onnx_model(Sequential& model, const RunDescription& run, bool probabilities) {
  model.require_compiled("export_onnx");
  onnx::ModelProto proto;
  proto.set_ir_version(kOnnxIrVersion);
  proto.set_producer_name("loom");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOnnxOpset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(model.name());
  GraphWriter writer(model, graph);
  for (size_t i = 0; i < model.layers().size(); ++i) writer.add(*model.layers()[i], model.layer_output_shape(i));
  OnnxModel result;
  result.output = writer.finish(probabilities);

  add_metadata(proto, "format", "loom");
  add_metadata(proto, "architecture", architecture_json(model));
  if (!run.empty())
    add_metadata(proto, "run", nlohmann::json(run).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (model.output_shape() == Shape{static_cast<int64_t>(kFashionMnistClassNames.size())})
    add_metadata(proto, "class_names", nlohmann::json(kFashionMnistClassNames).dump());
  add_metadata(proto, "input", kInputScaling);

  onnx::ModelProto checked = proto;  // shape inference adds what it infers; the file keeps what loom declared
  check_with_onnx(checked);
  if (!proto.SerializeToString(&result.bytes)) throw Error("ONNX export: the model cannot be serialized");
  return result;
}

std::string export_onnx(Sequential& model, const std::string& path, const RunDescription& run, bool probabilities) {
  OnnxModel exported = onnx_model(model, run, probabilities);
  write_file_atomically(path, exported.bytes);
  return exported.output;
}

}  // namespace loom
