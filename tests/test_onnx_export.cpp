// The ONNX export (engine/model/onnx_export.h): the graph's input, output, operators and weights as the header
// describes them, read back with the ONNX project's own classes; every layer class loom makes has an ONNX form that
// passes ONNX's checker and strict shape inference; a layer without one is refused by name; the file is written
// atomically. ONNX Runtime running the exported models (and agreeing with predict) is tests/onnx_runtime.sh's part.
#include <onnx/onnx_pb.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/data/fashion_mnist.h"
#include "engine/io/atomic_file.h"
#include "engine/layers/activations.h"
#include "engine/layers/batch_normalization.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/dropout.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"
#include "engine/model/architecture.h"
#include "engine/model/class_registry.h"
#include "engine/model/model_file.h"
#include "engine/model/onnx_export.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

onnx::ModelProto exported(Sequential& model, const RunDescription& run = {}, bool probabilities = true) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(onnx_model(model, run, probabilities).bytes));
  return proto;
}

std::vector<std::string> op_types(const onnx::ModelProto& proto) {
  std::vector<std::string> ops;
  for (const onnx::NodeProto& node : proto.graph().node()) ops.push_back(node.op_type());
  return ops;
}

// "N" for the batch dimension, the number for the others.
std::vector<std::string> dims(const onnx::ValueInfoProto& info) {
  std::vector<std::string> dims;
  for (const auto& d : info.type().tensor_type().shape().dim())
    dims.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return dims;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& proto, const std::string& name) {
  for (const onnx::TensorProto& t : proto.graph().initializer())
    if (t.name() == name) return t;
  throw std::runtime_error("no initializer '" + name + "'");
}

std::string metadata(const onnx::ModelProto& proto, const std::string& key) {
  for (const auto& entry : proto.metadata_props())
    if (entry.key() == key) return entry.value();
  return "<absent>";
}

std::unique_ptr<Sequential> compiled(Sequential* model, const Shape& input, bool from_logits) {
  std::unique_ptr<Sequential> owned(model);
  owned->build(input, Device::CPU, 5);
  owned->compile(std::make_unique<Adam>(), SparseCategoricalCrossentropy{from_logits});
  return owned;
}

TEST(OnnxExport, MlpIsItsLayersThenTheSoftmaxPredictApplies) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(16, Activation::ReLU);
  model->add<Dense>(10);
  model = compiled(model.release(), {28, 28}, true);

  const onnx::ModelProto proto = exported(*model, {{"program", "train_mlp"}, {"--epochs", "3"}});
  EXPECT_EQ(proto.opset_import(0).version(), kOnnxOpset);
  EXPECT_EQ(proto.producer_name(), "loom");
  ASSERT_EQ(proto.graph().input_size(), 1);
  EXPECT_EQ(proto.graph().input(0).name(), "images");
  EXPECT_EQ(dims(proto.graph().input(0)), (std::vector<std::string>{"N", "28", "28"}));
  ASSERT_EQ(proto.graph().output_size(), 1);
  EXPECT_EQ(proto.graph().output(0).name(), "probabilities");
  EXPECT_EQ(dims(proto.graph().output(0)), (std::vector<std::string>{"N", "10"}));
  // The loss takes logits: the Softmax that predict applies ends the graph.
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Flatten", "Gemm", "Relu", "Gemm", "Softmax"}));

  // Dense kernels as saved: [in, out], loom's own values.
  const std::vector<float> values = model->parameters().to_vector();
  for (const char* name : {"dense.kernel", "dense.bias", "dense_1.kernel", "dense_1.bias"}) {
    const Parameter& p = model->parameter_store().find(name);
    const onnx::TensorProto& t = initializer(proto, name);
    EXPECT_EQ(Shape(t.dims().begin(), t.dims().end()), p.shape) << name;
    EXPECT_EQ(std::vector<float>(t.float_data().begin(), t.float_data().end()), keras_values(p, values)) << name;
  }
  EXPECT_EQ(metadata(proto, "format"), "loom");
  EXPECT_EQ(metadata(proto, "architecture"), architecture_json(*model));
  EXPECT_EQ(nlohmann::json::parse(metadata(proto, "run")),
            nlohmann::json::parse(R"([["program", "train_mlp"], ["--epochs", "3"]])"));
  EXPECT_EQ(nlohmann::json::parse(metadata(proto, "class_names")).at(9), kFashionMnistClassNames.at(9));
  EXPECT_NE(metadata(proto, "input").find("/ 255"), std::string::npos);

  // The layers' own outputs, as Keras's model.export gives them: the logits, named so.
  const onnx::ModelProto layers_only = exported(*model, {}, /*probabilities=*/false);
  EXPECT_EQ(op_types(layers_only), (std::vector<std::string>{"Flatten", "Gemm", "Relu", "Gemm"}));
  EXPECT_EQ(layers_only.graph().output(0).name(), "logits");
  EXPECT_EQ(layers_only.graph().node(3).output(0), "logits");
}

TEST(OnnxExport, CnnGoesChannelsFirstForTheSpatialLayersAndBackBeforeFlatten) {
  auto model = std::make_unique<Sequential>();
  model->add<Conv2D>(4, 3, 3, Padding::Same, Activation::ReLU);
  model->add<MaxPool2D>(2);
  model->add<Conv2D>(5, 3, 3, Padding::Valid, Activation::ReLU);
  model->add<Flatten>();
  model->add<Dense>(10, Activation::Softmax);
  model = compiled(model.release(), {10, 10, 2}, /*from_logits=*/false);

  const onnx::ModelProto proto = exported(*model);
  EXPECT_EQ(dims(proto.graph().input(0)), (std::vector<std::string>{"N", "10", "10", "2"}));
  // The last layer's own softmax (which the loss takes over in training) ends the graph; none is added.
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Transpose", "Conv", "Relu", "MaxPool", "Conv", "Relu",
                                                       "Transpose", "Flatten", "Gemm", "Softmax"}));
  EXPECT_EQ(exported(*model, {}, /*probabilities=*/false).SerializeAsString(), proto.SerializeAsString());
  const auto& first = proto.graph().node(0);
  const auto& back = proto.graph().node(6);
  EXPECT_EQ(std::vector<int64_t>(first.attribute(0).ints().begin(), first.attribute(0).ints().end()),
            (std::vector<int64_t>{0, 3, 1, 2}));
  EXPECT_EQ(std::vector<int64_t>(back.attribute(0).ints().begin(), back.attribute(0).ints().end()),
            (std::vector<int64_t>{0, 2, 3, 1}));
  std::vector<int64_t> pads;
  for (const auto& attribute : proto.graph().node(1).attribute())
    if (attribute.name() == "pads") pads.assign(attribute.ints().begin(), attribute.ints().end());
  EXPECT_EQ(pads, (std::vector<int64_t>{1, 1, 1, 1}));  // "same": (3 - 1) / 2 on each side

  // Conv kernels in ONNX's [out, in, kh, kw]; loom holds [out, kh, kw, in].
  const std::vector<float> values = model->parameters().to_vector();
  const Parameter& p = model->parameter_store().find("conv2d_1.kernel");
  const onnx::TensorProto& t = initializer(proto, "conv2d_1.kernel");
  ASSERT_EQ(Shape(t.dims().begin(), t.dims().end()), (Shape{5, 4, 3, 3}));
  for (int64_t o = 0; o < 5; ++o)
    for (int64_t i = 0; i < 4; ++i)
      for (int64_t y = 0; y < 3; ++y)
        for (int64_t x = 0; x < 3; ++x)
          ASSERT_EQ(t.float_data(static_cast<int>(((o * 4 + i) * 3 + y) * 3 + x)),
                    values[static_cast<size_t>(p.offset + ((o * 3 + y) * 3 + x) * 4 + i)])
              << o << " " << i << " " << y << " " << x;
  // Every layer's output is declared with loom's shape (channels first where the tensor is), for strict inference.
  bool pooled_declared = false;
  for (const auto& info : proto.graph().value_info())
    if (info.name() == "max_pooling2d") {
      pooled_declared = true;
      EXPECT_EQ(dims(info), (std::vector<std::string>{"N", "4", "5", "5"}));
    }
  EXPECT_TRUE(pooled_declared);
}

TEST(OnnxExport, EveryLayerClassHasAnOnnxFormThatOnnxChecks) {
  auto model = std::make_unique<Sequential>();
  model->add<Conv2D>(4, 3, 3, Padding::Same, Activation::None);
  model->add<BatchNormalization>();
  model->add<ReLU>();
  model->add<Softmax>();  // over the channels of a map: ONNX's axis 1 there
  model->add<MaxPool2D>(2);
  model->add<Flatten>();
  model->add<Dense>(8);
  model->add<BatchNormalization>(0.9f, 1e-5f);
  model->add<ReLU>();
  model->add<Dropout>(0.5);
  model->add<Dense>(10);
  model->add<Softmax>();
  model = compiled(model.release(), {6, 6, 1}, /*from_logits=*/false);
  std::set<std::string> used, registered;
  for (const auto& layer : model->layers()) used.insert(layer->type());
  for (const auto& c : layer_classes()) registered.insert(c.class_name);
  ASSERT_EQ(used, registered) << "a layer class is missing from this model: give it an ONNX form and add it here";

  const onnx::ModelProto proto = exported(*model);  // ONNX's checker and strict shape inference ran on it
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Transpose", "Conv", "BatchNormalization", "Relu", "Softmax",
                                                       "MaxPool", "Transpose", "Flatten", "Gemm", "BatchNormalization",
                                                       "Relu", "Gemm", "Softmax"}));
  const auto& map_softmax = proto.graph().node(4);
  EXPECT_EQ(map_softmax.attribute(0).i(), 1);
  const auto& last = proto.graph().node(proto.graph().node_size() - 1);
  EXPECT_EQ(last.attribute(0).i(), -1);
  EXPECT_EQ(last.output(0), "probabilities");
  const auto& norm = proto.graph().node(9);
  ASSERT_EQ(norm.input_size(), 5);
  EXPECT_EQ(norm.input(3), "batch_normalization_1.moving_mean");
  EXPECT_FLOAT_EQ(norm.attribute(0).f(), 1e-5f);
  // Each layer's output declared once (Dropout writes nothing, so declares nothing).
  std::set<std::string> declared;
  for (const auto& info : proto.graph().value_info()) EXPECT_TRUE(declared.insert(info.name()).second) << info.name();
  EXPECT_EQ(declared.count("dropout"), 0u);
  EXPECT_EQ(declared.count("re_lu_1"), 1u);
  EXPECT_EQ(declared.size(), 10u);  // 11 of the 12 layers write a tensor; the last one is the graph's output
}

// A layer of a kind the exporter does not know.
class Doubling : public Layer {
 public:
  std::string type() const override { return "Doubling"; }
  std::string default_name() const override { return "doubling"; }
  Shape build(const Shape& input) override { return input; }
  void forward(const Tensor&, Tensor&, bool) override {}
  void backward(const Tensor&, const Tensor&, Tensor&, Tensor*) override {}
};

TEST(OnnxExport, ALayerWithoutAnOnnxFormIsRefusedByName) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Doubling>();
  model->add<Dense>(10);
  model = compiled(model.release(), {4, 4}, true);
  try {
    onnx_model(*model);
    FAIL() << "exported a layer it cannot describe";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "layer 'doubling' (Doubling) has no ONNX form in this loom");
  }

  Sequential uncompiled;
  uncompiled.add<Flatten>();
  uncompiled.add<Dense>(10);
  uncompiled.build({4, 4}, Device::CPU, 1);
  expect_one_line_error<UsageError>([&] { onnx_model(uncompiled); }, {"export_onnx: call compile() first"});
}

TEST(OnnxExport, BatchNormalizationOfAnyRankNormalizesLoomsLastAxis) {
  auto model = std::make_unique<Sequential>();
  model->add<BatchNormalization>();  // over the 7 columns of a 5x7 sample: ONNX's axis 1 after a Transpose
  model->add<Flatten>();
  model->add<Dense>(10);
  model = compiled(model.release(), {5, 7}, /*from_logits=*/true);
  const onnx::ModelProto proto = exported(*model);  // strict shape inference: the statistics fit axis 1
  EXPECT_EQ(op_types(proto),
            (std::vector<std::string>{"Transpose", "BatchNormalization", "Transpose", "Flatten", "Gemm", "Softmax"}));
  EXPECT_EQ(std::vector<int64_t>(proto.graph().node(0).attribute(0).ints().begin(),
                                 proto.graph().node(0).attribute(0).ints().end()),
            (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(std::vector<int64_t>(proto.graph().node(2).attribute(0).ints().begin(),
                                 proto.graph().node(2).attribute(0).ints().end()),
            (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(proto.graph().node(2).output(0), "batch_normalization");
}

TEST(OnnxExport, TheOutputIsNamedForWhatItHolds) {
  // A Dropout last: the layer before it gives the output.
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(10);
  model->add<Dropout>(0.5);
  model = compiled(model.release(), {4, 4}, /*from_logits=*/true);
  onnx::ModelProto proto = exported(*model);
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Flatten", "Gemm", "Softmax"}));
  EXPECT_EQ(proto.graph().output(0).name(), "probabilities");
  proto = exported(*model, {}, /*probabilities=*/false);
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Flatten", "Gemm"}));
  EXPECT_EQ(proto.graph().node(1).output(0), "logits");
  EXPECT_EQ(proto.graph().output(0).name(), "logits");

  // Trained for probabilities without a softmax: the layers' outputs, named as no more than that.
  auto linear = std::make_unique<Sequential>();
  linear->add<Flatten>();
  linear->add<Dense>(10);
  linear = compiled(linear.release(), {4, 4}, /*from_logits=*/false);
  EXPECT_EQ(onnx_model(*linear).output, "outputs");
  EXPECT_EQ(exported(*linear).graph().output(0).name(), "outputs");

  // Nothing but a Dropout: an Identity gives the images back.
  auto nothing = std::make_unique<Sequential>();
  nothing->add<Dropout>(0.5);
  nothing = compiled(nothing.release(), {10}, /*from_logits=*/true);
  proto = exported(*nothing);
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Softmax"}));
  proto = exported(*nothing, {}, false);
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Identity"}));
  EXPECT_EQ(proto.graph().node(0).input(0), "images");
  EXPECT_EQ(proto.graph().output(0).name(), "logits");
}

class OnnxExportFile : public TempDirTest {};

TEST_F(OnnxExportFile, IsWrittenWholeOrNotAtAll) {
  auto model = std::make_unique<Sequential>();
  model->add<Flatten>();
  model->add<Dense>(10);
  model = compiled(model.release(), {4, 4}, true);
  const std::string file = path("model.onnx");
  write_file_atomically(file, "an earlier file");
  EXPECT_EQ(export_onnx(*model, file), "probabilities");
  EXPECT_EQ(slurp(file), onnx_model(*model).bytes);

  const std::string nowhere = path("missing/model.onnx");
  expect_one_line_error<Error>([&] { export_onnx(*model, nowhere); }, {"cannot write '" + nowhere + "'"});
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_), std::filesystem::directory_iterator()), 1);
}

}  // namespace
}  // namespace loom::test
