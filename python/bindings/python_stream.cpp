#include "python/bindings/python_stream.h"

#include <cstring>

#include "python/bindings/python_callbacks.h"

namespace py = pybind11;

namespace loom::python {

PythonTextBuffer::PythonTextBuffer(py::object file) : file_(std::move(file)) {}

PythonTextBuffer::~PythonTextBuffer() {
  hand_over();
  py::gil_scoped_acquire gil;
  file_ = py::object();  // released with the GIL held
}

bool PythonTextBuffer::hand_over() {
  if (pending_.empty()) return true;
  py::gil_scoped_acquire gil;
  try {
    // Invalid UTF-8 (a path's stray bytes) becomes U+FFFD rather than an error.
    py::object text = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(pending_.data(), static_cast<Py_ssize_t>(pending_.size()), "replace"));
    if (!text) throw py::error_already_set();
    file_.attr("write")(text);
    file_.attr("flush")();
  } catch (py::error_already_set& e) {
    // Python ran a pending Ctrl-C inside write(): signalled again, so that fit still stops for it after this step.
    if (e.matches(PyExc_KeyboardInterrupt)) {
      PyErr_SetInterrupt();
      note_pending_interrupt();
    }
    pending_.clear();
    return false;
  }
  pending_.clear();
  return true;
}

PythonTextBuffer::int_type PythonTextBuffer::overflow(int_type c) {
  if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
  const char ch = traits_type::to_char_type(c);
  pending_.push_back(ch);
  if (ch == '\n' || ch == '\r') return hand_over() ? c : traits_type::eof();
  return c;
}

std::streamsize PythonTextBuffer::xsputn(const char* s, std::streamsize n) {
  pending_.append(s, static_cast<size_t>(n));
  if (std::memchr(s, '\n', static_cast<size_t>(n)) || std::memchr(s, '\r', static_cast<size_t>(n)))
    if (!hand_over()) return 0;
  return n;
}

int PythonTextBuffer::sync() { return hand_over() ? 0 : -1; }

namespace {

py::object python_stdout() { return py::module_::import("sys").attr("stdout"); }

bool terminal(const py::object& file) {
  try {
    return file.attr("isatty")().cast<bool>();
  } catch (py::error_already_set&) {
    return false;
  }
}

}  // namespace

PythonStdout::PythonStdout() : buffer_(python_stdout()), stream_(&buffer_), terminal_(terminal(python_stdout())) {}

}  // namespace loom::python
