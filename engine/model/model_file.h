// Saved models: safetensors files (engine/io/safetensors.h) that PyTorch, Keras 3 and every safetensors reader
// open. The tensors are the parameters, float32, under the names the model summary shows ("dense.kernel",
// "conv2d_1.bias") and in Keras's layouts (Dense kernel [in, out], Conv2D kernel [kh, kw, in, out]); the metadata
// says what the file is and holds the architecture (engine/model/architecture.h), so the file alone rebuilds the
// model:
//   "format": "loom", "format_version": "1", "content": "weights" or "checkpoint", "architecture": JSON text.
// A checkpoint (engine/training/checkpoint.h) is the same file with more tensors and metadata; anything that reads
// weights reads them from a checkpoint too.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/model/sequential.h"

namespace loom {

// How a model was trained, for people (the report shows it): ("program", "train_mlp"), ("--epochs", "10"),
// ("device", "cuda: NVIDIA H100 80GB HBM3"), ..., in the order given. Saved as the metadata entry "run" (JSON
// [[name, value], ...]; bytes that are not UTF-8, as a path may hold, become U+FFFD); never compared when a file is
// loaded or resumed.
using RunDescription = std::vector<std::pair<std::string, std::string>>;
// The value of the first entry named `key`; empty when there is none.
std::string described_value(const RunDescription& run, const std::string& key);

// Writes the model's parameters and architecture (and `run`, when given) to `path`, atomically (a failed write
// leaves an earlier file intact; loom::Error "cannot write '<path>': <reason>").
void save_weights(Sequential& model, const std::string& path, const RunDescription& run = {});

// Puts the parameters saved in `path` (weights or checkpoint) into `model`. A file of another architecture is a
// loom::UsageError naming the first difference; a corrupt or foreign file a loom::Error naming the file and the
// problem. The optimizer's state is not touched.
void load_weights(Sequential& model, const std::string& path);

// Builds the model the file's architecture describes, on `device`, with the saved parameters.
std::unique_ptr<Sequential> load_model(const std::string& path, Device device);
// The same from a file already opened with open_model_file (a caller that also reads its metadata reads it once).
std::unique_ptr<Sequential> load_model(const SafetensorsFile& file, Device device);

// ---- the pieces weights files and checkpoints share

// Reads `path` and checks that it is a loom model file of this format version (any content).
SafetensorsFile open_model_file(const std::string& path);
// A writer with the format's metadata, the model's architecture and the run's description (when not empty);
// `content` is "weights" or "checkpoint".
SafetensorsWriter model_file_writer(Sequential& model, const std::string& content, const RunDescription& run = {});
// The run description a file holds (empty when it has none); a loom::Error naming the file when it is malformed.
RunDescription read_run_description(const SafetensorsFile& file);
// A loom::UsageError when the file's architecture is not the model's: "'<path>' holds another model: <difference>"
// (the optimizer's settings count when `with_optimizer`: a resumed run must keep them, weights may be fine-tuned
// with others); a loom::Error naming the file when its architecture is malformed.
void check_same_architecture(const SafetensorsFile& file, Sequential& model, bool with_optimizer);

// A parameter in Keras's layout: its shape (loom's axes in the order keras_axes gives), its values taken from `flat`
// (laid out as the model's parameter store), and those values put back into `flat`. A loom::Error when the sizes
// disagree.
Shape keras_shape(const Parameter& p);
std::vector<float> keras_values(const Parameter& p, const std::vector<float>& flat);
void put_keras_values(const Parameter& p, const std::vector<float>& keras, std::vector<float>& flat);

// Adds the parameters held in `flat` (laid out as the model's parameter store, or its trainable prefix) as tensors
// named "<parameter><suffix>", in Keras's layouts.
void add_parameter_tensors(SafetensorsWriter& writer, const ParameterStore& store, const std::vector<float>& flat,
                           const std::string& suffix, bool trainable_only);
// Reads them back into the store's layout (gaps zero); each missing tensor, wrong dtype or shape is a loom::Error
// naming the file and the tensor, and so is a value no training produces: a NaN or an infinity anywhere, a negative
// variance (BatchNormalization's moving_variance; every value when `variances`, as Adam's second moments are):
// "tensor 'dense.kernel' holds a NaN at element 17 ...". Every reader of parameters goes through here.
std::vector<float> read_parameter_tensors(const SafetensorsFile& file, const ParameterStore& store,
                                          const std::string& suffix, bool trainable_only, bool variances = false);
// A loom::Error naming the first tensor of the file that is not "<parameter><suffix>" for one of `suffixes`
// ("" for the parameters themselves): a tensor of no layer of this model.
void check_tensor_names(const SafetensorsFile& file, const ParameterStore& store,
                        const std::vector<std::string>& suffixes);

}  // namespace loom
