#include "python/bindings/engine_model.h"

#include <cstring>

#include "engine/data/device_dataset.h"
#include "engine/losses/sparse_categorical_crossentropy.h"
#include "engine/model/architecture.h"
#include "engine/model/model_file.h"
#include "engine/model/onnx_export.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"
#include "engine/training/inference.h"
#include "python/bindings/python_callbacks.h"
#include "python/bindings/python_stream.h"

namespace py = pybind11;

namespace loom::python {
namespace {

// A view of a NumPy array's memory as a host tensor (no copy): the array must be C-contiguous and of `dtype`. The
// Python side converts what users pass; this refuses anything it missed rather than reading memory wrongly.
Tensor host_view(const py::array& array, DType dtype, const char* what) {
  const bool right_type = dtype == DType::U8    ? py::isinstance<py::array_t<uint8_t>>(array)
                          : dtype == DType::F32 ? py::isinstance<py::array_t<float>>(array)
                                                : false;
  if (!right_type) throw UsageError(std::string(what) + " must be a " + dtype_name(dtype) + " array");
  if (!(array.flags() & py::array::c_style)) throw UsageError(std::string(what) + " must be a C-contiguous array");
  if (array.ndim() < 1 || array.shape(0) < 1) throw UsageError(std::string(what) + " holds no samples");
  Shape shape(array.shape(), array.shape() + array.ndim());
  return Tensor::wrap(const_cast<void*>(array.data()), shape, Device::CPU, dtype);
}

LabeledImages labeled_images(const py::array& x, const py::array& y) {
  return {host_view(x, DType::U8, "x"), host_view(y, DType::U8, "y")};
}

// Keeps where the training set's shuffle generator got to, so that the next fit goes on from there (fitting e
// epochs and then k more shuffles as fitting e + k at once, as Keras does).
class ShuffleKeeper : public Callback {
 public:
  explicit ShuffleKeeper(std::string& state) : state_(state) {}
  void on_epoch_end(FitContext& context, int, EpochResult&) override { state_ = context.training_data.shuffle_state(); }

 private:
  std::string& state_;
};

}  // namespace

EngineModel::EngineModel(const std::vector<std::string>& layers, const std::vector<int64_t>& input_shape,
                         const std::string& optimizer, bool from_logits, const std::string& device, uint64_t seed)
    : model_(std::make_unique<Sequential>()), seed_(seed) {
  if (device != "cpu" && device != "cuda") throw UsageError("device must be 'cpu' or 'cuda', got '" + device + "'");
  for (size_t i = 0; i < layers.size(); ++i) model_->add(layer_from_json(layers[i], "layer " + std::to_string(i + 1)));
  model_->build(Shape(input_shape.begin(), input_shape.end()), device == "cuda" ? Device::CUDA : Device::CPU, seed);
  model_->compile(optimizer_from_json(optimizer), SparseCategoricalCrossentropy{from_logits});
}

py::list EngineModel::fit(const py::array& x, const py::array& y, FitOptions options, const py::object& validation,
                          const py::list& callbacks, const py::object& python_model) {
  const LabeledImages train = labeled_images(x, y);
  LabeledImages held_out;
  py::array held_out_x, held_out_y;  // the arrays held_out views, alive until fit returns
  if (!validation.is_none()) {
    const py::tuple pair = validation.cast<py::tuple>();
    held_out_x = pair[0].cast<py::array>();
    held_out_y = pair[1].cast<py::array>();
    held_out = labeled_images(held_out_x, held_out_y);
    options.validation_data = &held_out;
  }
  options.seed = seed_;
  options.shuffle_state = shuffle_state_;
  PythonStdout out;
  options.out = &out.stream();
  // Keras's verbose: 1 a progress bar (redrawn in place on a terminal), 2 one line per epoch.
  options.live_progress = options.verbose == 1 && out.is_terminal() ? LiveProgress::Always : LiveProgress::Never;
  options.verbose = options.verbose > 0 ? 1 : 0;
  options.callbacks.clear();

  std::vector<std::unique_ptr<Callback>> owned;
  for (const py::handle entry : callbacks) {
    if (py::isinstance<Callback>(entry)) {
      options.callbacks.push_back(entry.cast<Callback*>());
      continue;
    }
    const py::tuple pair = entry.cast<py::tuple>();
    owned.push_back(std::make_unique<PythonCallback>(pair[0], python_model, pair[1].cast<bool>()));
    options.callbacks.push_back(owned.back().get());
  }
  ShuffleKeeper keeper(shuffle_state_);  // kept by every epoch that ends, an interrupted fit's too
  InterruptWatch interrupt;
  options.callbacks.push_back(&keeper);
  options.callbacks.push_back(&interrupt);

  if (!trainer_) trainer_ = std::make_unique<Trainer>(*model_);
  History history;
  {
    py::gil_scoped_release release;
    history = trainer_->fit(train, options);
  }
  py::list epochs;
  for (const EpochResult& epoch : history) {
    py::dict logs = epoch_logs(epoch);
    logs["learning_rate"] = epoch.learning_rate;
    logs["seconds"] = epoch.seconds;
    epochs.append(logs);
  }
  return epochs;
}

py::tuple EngineModel::evaluate(const py::array& x, const py::array& y, int64_t batch_size, int verbose) {
  const LabeledImages data = labeled_images(x, y);
  PythonStdout out;
  Evaluation result;
  {
    py::gil_scoped_release release;
    result = loom::evaluate(*model_, data, batch_size, verbose > 0 ? 1 : 0, out.stream());
  }
  return py::make_tuple(result.loss, result.accuracy);
}

py::array_t<float> EngineModel::predict(const py::array& x, int64_t batch_size) {
  const Tensor images =
      py::isinstance<py::array_t<uint8_t>>(x) ? host_view(x, DType::U8, "x") : host_view(x, DType::F32, "x");
  Tensor outputs;
  {
    py::gil_scoped_release release;
    outputs = loom::predict(*model_, images, batch_size, /*probabilities=*/false);
  }
  py::array_t<float> result(std::vector<py::ssize_t>(outputs.shape().begin(), outputs.shape().end()));
  std::memcpy(result.mutable_data(), outputs.f32(), outputs.bytes());
  return result;
}

void EngineModel::save_weights(const std::string& path) {
  py::gil_scoped_release release;
  loom::save_weights(*model_, path);
}

std::string EngineModel::export_onnx(const std::string& path, bool probabilities) {
  py::gil_scoped_release release;
  return loom::export_onnx(*model_, path, {}, probabilities);
}

void EngineModel::load_weights(const std::string& path) {
  py::gil_scoped_release release;
  loom::load_weights(*model_, path);
}

py::list EngineModel::get_weights() {
  const std::vector<float> flat = model_->parameters().to_vector();
  py::list weights;
  for (const Parameter& p : model_->parameter_store().parameters()) {
    const Shape shape = keras_shape(p);
    const std::vector<float> values = keras_values(p, flat);
    py::array_t<float> array(std::vector<py::ssize_t>(shape.begin(), shape.end()));
    std::memcpy(array.mutable_data(), values.data(), values.size() * sizeof(float));
    weights.append(py::make_tuple(p.name, array));
  }
  return weights;
}

void EngineModel::set_weights(const py::list& arrays) {
  const std::vector<Parameter>& parameters = model_->parameter_store().parameters();
  if (arrays.size() != parameters.size())
    throw UsageError("set_weights: the model has " + std::to_string(parameters.size()) + " weights, got " +
                     std::to_string(arrays.size()) + " arrays");
  std::vector<float> flat = model_->parameters().to_vector();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Parameter& p = parameters[i];
    const py::array array = arrays[i].cast<py::array>();
    const Tensor values = host_view(array, DType::F32, ("weight '" + p.name + "'").c_str());
    if (values.shape() != keras_shape(p))
      throw UsageError("set_weights: weight '" + p.name + "' has shape " + shape_str(keras_shape(p)) + ", got " +
                       shape_str(values.shape()));
    put_keras_values(p, std::vector<float>(values.f32(), values.f32() + values.numel()), flat);
  }
  Tensor& params = model_->parameters();
  params.copy_from(Tensor::wrap(flat.data(), params.shape(), Device::CPU));
}

std::pair<std::string, std::string> resolve_device_request(const std::string& request) {
  std::string note;
  const Device device = resolve_device(request, &note);
  return {device_name(device), note};
}

std::pair<int, std::string> use_default_cpu_threads() {
  const CpuThreadChoice choice = default_cpu_threads();
  set_cpu_threads(choice.threads);
  return {choice.threads, choice.source};
}

}  // namespace loom::python
