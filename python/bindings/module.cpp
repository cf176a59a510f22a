// loom._engine: the C++ engine as the Python package `loom` sees it (python/loom/). Keras's names, defaults and
// checks live in the Python code; this module holds the model, its training, evaluation and prediction, the
// callbacks the engine has, the data set reader and the device choice. Engine errors become Python exceptions with
// the engine's one-line message: ValueError for a wrong request, loom.EngineError (a RuntimeError) for a failure.
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>

#include "engine/data/fashion_mnist.h"
#include "engine/layers/config_json.h"
#include "engine/model/architecture.h"
#include "engine/model/onnx_export.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"
#include "engine/training/callbacks.h"
#include "engine/training/lr_schedules.h"
#include "python/bindings/engine_model.h"

namespace py = pybind11;
using namespace loom;
using loom::python::EngineModel;

namespace {

py::array_t<uint8_t> numpy_copy(const Tensor& tensor) {
  py::array_t<uint8_t> array(std::vector<py::ssize_t>(tensor.shape().begin(), tensor.shape().end()));
  std::memcpy(array.mutable_data(), tensor.data<uint8_t>(), tensor.bytes());
  return array;
}

// ((x_train, y_train), (x_test, y_test)) from the local files, as Keras's load_data returns them.
py::tuple fashion_mnist_arrays(const std::string& dir) {
  FashionMnist data;
  {
    py::gil_scoped_release release;
    data = load_fashion_mnist(resolve_fashion_mnist_dir(dir));
  }
  return py::make_tuple(py::make_tuple(numpy_copy(data.train.images), numpy_copy(data.train.labels)),
                        py::make_tuple(numpy_copy(data.test.images), numpy_copy(data.test.labels)));
}

MonitorMode monitor_mode(const std::string& mode) {
  if (mode == "auto") return MonitorMode::Auto;
  if (mode == "min") return MonitorMode::Min;
  if (mode == "max") return MonitorMode::Max;
  throw UsageError("mode must be 'auto', 'min' or 'max', got '" + mode + "'");
}

// Keras's schedule(epoch, lr), a Python function, called with the GIL held.
LearningRateScheduler::Schedule python_schedule(py::function schedule) {
  // The function is released with the GIL held, whichever thread drops the last copy.
  std::shared_ptr<py::function> owner(new py::function(std::move(schedule)), [](py::function* f) {
    py::gil_scoped_acquire gil;
    delete f;
  });
  return [owner](int epoch, double rate) {
    py::gil_scoped_acquire gil;
    return (*owner)(epoch, rate).cast<double>();
  };
}

}  // namespace

PYBIND11_MODULE(_engine, m) {
  m.doc() = "loom's C++ engine (use the Python package 'loom', not this module)";

  static py::exception<Error> engine_error(m, "EngineError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr thrown) {
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const UsageError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ConfigError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ArchitectureError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(engine_error.ptr(), e.what());
    }
  });

  // What Keras's fit arguments set; the model sets the rest.
  py::class_<FitOptions>(m, "FitOptions")
      .def(py::init<>())
      .def_readwrite("epochs", &FitOptions::epochs)
      .def_readwrite("initial_epoch", &FitOptions::initial_epoch)
      .def_readwrite("batch_size", &FitOptions::batch_size)
      .def_readwrite("shuffle", &FitOptions::shuffle)
      .def_readwrite("verbose", &FitOptions::verbose)
      .def_readwrite("validation_split", &FitOptions::validation_split)
      .def_readwrite("max_steps_per_epoch", &FitOptions::max_steps_per_epoch)
      .def_readwrite("stop_on_nan", &FitOptions::stop_on_nan);

  py::class_<EngineModel>(m, "Model")
      .def(py::init<const std::vector<std::string>&, const std::vector<int64_t>&, const std::string&, bool,
                    const std::string&, uint64_t>(),
           py::arg("layers"), py::arg("input_shape"), py::arg("optimizer"), py::arg("from_logits"), py::arg("device"),
           py::arg("seed"))
      .def("summary", &EngineModel::summary)
      .def("param_count", &EngineModel::param_count)
      .def("device", &EngineModel::device)
      .def("output_shape", &EngineModel::output_shape)
      .def("fit", &EngineModel::fit)
      .def("evaluate", &EngineModel::evaluate)
      .def("predict", &EngineModel::predict)
      .def("save_weights", &EngineModel::save_weights)
      .def("export_onnx", &EngineModel::export_onnx)
      .def("load_weights", &EngineModel::load_weights)
      .def("get_weights", &EngineModel::get_weights)
      .def("set_weights", &EngineModel::set_weights);

  // The callbacks the engine has, built from Keras's arguments (the Python classes check and name them).
  py::class_<Callback, std::shared_ptr<Callback>>(m, "Callback");
  py::class_<TerminateOnNaN, Callback, std::shared_ptr<TerminateOnNaN>>(m, "TerminateOnNaN").def(py::init<>());
  py::class_<EarlyStopping, Callback, std::shared_ptr<EarlyStopping>>(m, "EarlyStopping")
      .def(py::init([](const std::string& monitor, double min_delta, int patience, const std::string& mode,
                       bool restore_best_weights) {
        EarlyStopping::Options options;
        options.monitor = monitor;
        options.min_delta = min_delta;
        options.patience = patience;
        options.mode = monitor_mode(mode);
        options.restore_best_weights = restore_best_weights;
        return std::make_shared<EarlyStopping>(options);
      }))
      .def_property_readonly("stopped_epoch", &EarlyStopping::stopped_epoch)
      .def_property_readonly("best_epoch", &EarlyStopping::best_epoch);
  py::class_<ReduceLROnPlateau, Callback, std::shared_ptr<ReduceLROnPlateau>>(m, "ReduceLROnPlateau")
      .def(py::init([](const std::string& monitor, double factor, int patience, const std::string& mode,
                       double min_delta, int cooldown, double min_lr) {
        ReduceLROnPlateau::Options options;
        options.monitor = monitor;
        options.factor = factor;
        options.patience = patience;
        options.mode = monitor_mode(mode);
        options.min_delta = min_delta;
        options.cooldown = cooldown;
        options.min_rate = min_lr;
        return std::make_shared<ReduceLROnPlateau>(options);
      }));
  py::class_<LearningRateScheduler, Callback, std::shared_ptr<LearningRateScheduler>>(m, "LearningRateScheduler")
      .def(py::init([](py::function schedule) {
        return std::make_shared<LearningRateScheduler>(python_schedule(std::move(schedule)));
      }));
  m.def("fashion_mnist", &fashion_mnist_arrays, py::arg("dir") = "",
        "((x_train, y_train), (x_test, y_test)) read from dir, else $FASHION_MNIST_DIR, else the Debian package's "
        "folder");
  m.def("resolve_device", &python::resolve_device_request, py::arg("request"));
  m.def("use_default_cpu_threads", &python::use_default_cpu_threads);
  m.def("gpu_name", [] { return probe_cuda().gpu_name; });
  m.attr("ONNX_OPSET") = kOnnxOpset;
}
