// A trained model as an ONNX inference graph, for ONNX Runtime (servers, browsers, phones), TensorRT and any other
// ONNX reader: what predict computes, written with the ONNX project's own schema and protobuf.
//
// The graph takes "images", float [N, <the model's input shape>] with N any batch size: the pixels scaled to 0..1 as
// in training (uint8 / 255), [N, 28, 28] for the MLP and [N, 28, 28, 1] for the CNNs, as users feed Keras. It gives
// "probabilities", float [N, classes]: the layers' own outputs, with a final Softmax added where the loss takes
// logits (the MLP), so the graph gives what predict gives.
//
// loom computes channels-last (NHWC, as Keras does); ONNX defines Conv, MaxPool and BatchNormalization of images
// channels-first only. So a Transpose takes the images to NCHW before the first of them and another takes them back
// to NHWC before Flatten: Flatten then orders the features as loom does, and every Dense kernel is exported as
// saved ([in, out], for Gemm). Converting the first Dense kernel's rows instead would save one Transpose of a small
// map per batch, but the exported weights would no longer be the saved ones. Conv kernels are converted to ONNX's
// [out, in, kh, kw]; the other parameters keep their saved names and layouts. Dropout is left out (it passes its
// input through at inference); BatchNormalization is ONNX's in inference form, with the moving statistics (ONNX's
// normalizes axis 1: a Dense output's features are there already, an image map's channels are after the Transpose,
// and any other sample has its last axis moved there and back).
//
// The model's metadata ("metadata_props") holds "format": "loom", "architecture" (engine/model/architecture.h: the
// layers, loss and optimizer settings), "run" (how it was trained, when given), "class_names" (JSON, for the ten
// Fashion-MNIST classes) and "input": how the images are scaled.
#pragma once

#include <string>

#include "engine/model/model_file.h"
#include "engine/model/sequential.h"

namespace loom {

// The ONNX operator set the graph uses: the newest the ONNX library loom is built with knows (Debian 12's ONNX 1.12;
// the build requires at least that), which every ONNX Runtime since 1.13 runs. The file says IR version 8, opset 17's.
constexpr int kOnnxOpset = 17;

struct OnnxModel {
  std::string bytes;   // the serialized ModelProto
  std::string output;  // the graph's output: "probabilities", "logits" or "outputs"
};

// The ONNX model of `model` (compiled: its loss says whether the layers end in logits). Its output is
// "probabilities" where the graph ends in a softmax (its own or the one added where the loss takes logits). With
// `probabilities` false, the graph gives the layers' own outputs, as Keras's model.export does: "logits" where the
// loss takes logits (no Softmax added). A model whose last layer has no softmax and whose loss takes probabilities
// (an uncompiled Python model) gives "outputs". The graph is checked with ONNX's checker and its strict shape
// inference, which must give every layer's output the shape loom gives it. A layer with no ONNX form is a
// loom::UsageError naming it.
OnnxModel onnx_model(Sequential& model, const RunDescription& run = {}, bool probabilities = true);

// Writes onnx_model(model, run, probabilities) to `path` atomically (loom::Error "cannot write '<path>': <reason>",
// an earlier file left intact) and returns the name of the graph's output.
std::string export_onnx(Sequential& model, const std::string& path, const RunDescription& run = {},
                        bool probabilities = true);

}  // namespace loom
