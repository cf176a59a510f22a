// A Sequential model as the Python package holds it: made from the layers' and the optimizer's settings (the JSON
// entries a saved architecture holds), with the Trainer that carries its run from one fit to the next, and NumPy
// arrays in and out. The Keras surface (argument names, defaults, input checks, History) is the Python code's;
// this is the engine underneath, called with the GIL released.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "engine/model/sequential.h"
#include "engine/training/trainer.h"

namespace loom::python {

class EngineModel {
 public:
  // layers: each layer's entry ({"class_name": ..., "config": {...}}); optimizer: {"name": "Adam", ...}; device:
  // "cpu" or "cuda"; seed: the initial weights' and the shuffles' seed.
  EngineModel(const std::vector<std::string>& layers, const std::vector<int64_t>& input_shape,
              const std::string& optimizer, bool from_logits, const std::string& device, uint64_t seed);

  std::string summary() const { return model_->summary(); }
  int64_t param_count() const { return model_->param_count(); }
  std::string device() const { return device_name(model_->device()); }
  std::vector<int64_t> output_shape() const { return model_->output_shape(); }

  // x uint8 [N, ...input]; y uint8 [N]; options: what Keras's fit arguments ask (verbose 0, 1 or 2 as Keras's; the
  // rest of what fit needs is set here); validation: a pair (x, y) as x and y, or None. callbacks: engine callbacks
  // and (Python callback, overrides batch hooks) pairs, in Keras's order. `python_model` is what Python callbacks see
  // as self.model (its stop_training is read after each hook). Returns one dict of figures per epoch.
  pybind11::list fit(const pybind11::array& x, const pybind11::array& y, FitOptions options,
                     const pybind11::object& validation, const pybind11::list& callbacks,
                     const pybind11::object& python_model);
  // [loss, accuracy] over x uint8 [N, ...input], y uint8 [N]; verbose 1 prints Keras's line to sys.stdout.
  pybind11::tuple evaluate(const pybind11::array& x, const pybind11::array& y, int64_t batch_size, int verbose);
  // The last layer's outputs (logits for a model trained from logits, as Keras's predict gives them), float32
  // [N, ...output], for x uint8 (scaled by 1/255, as training does) or float32.
  pybind11::array_t<float> predict(const pybind11::array& x, int64_t batch_size);

  void save_weights(const std::string& path);
  // An ONNX file of the model (engine/model/onnx_export.h): probabilities, or the layers' own outputs; returns the
  // name of the graph's output.
  std::string export_onnx(const std::string& path, bool probabilities);
  void load_weights(const std::string& path);
  // The parameters in Keras's layouts, in the parameter store's order: [(name, float32 array), ...]; set_weights
  // takes arrays of those shapes in that order.
  pybind11::list get_weights();
  void set_weights(const pybind11::list& arrays);

 private:
  std::unique_ptr<Sequential> model_;
  std::unique_ptr<Trainer> trainer_;
  uint64_t seed_;
  std::string shuffle_state_;  // where the last fit left the training set's shuffle generator
};

// The engine's verdict on a device request ("auto", "cpu" or "cuda"), and the note that explains a fallback.
std::pair<std::string, std::string> resolve_device_request(const std::string& request);
// Sets the CPU path's threads as the apps do without --threads (the environment or every core); the count and why.
std::pair<int, std::string> use_default_cpu_threads();

}  // namespace loom::python
