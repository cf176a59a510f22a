// Text the engine prints (the progress bar, the summary, evaluate's line) written through a Python file object,
// normally sys.stdout, so that it lands where Python's own print goes (a notebook's cell, a redirected stream).
#pragma once

#include <ostream>
#include <streambuf>
#include <string>

#include <pybind11/pybind11.h>

namespace loom::python {

// A stream buffer that hands whole lines (and '\r' redraws) to `file.write`, taking the GIL for each: engine code
// may print from a thread that released it. A write that fails in Python is dropped, as print's to a closed
// stream would be lost; the stream's badbit records it.
class PythonTextBuffer : public std::streambuf {
 public:
  explicit PythonTextBuffer(pybind11::object file);
  ~PythonTextBuffer() override;

 protected:
  int_type overflow(int_type c) override;
  std::streamsize xsputn(const char* s, std::streamsize n) override;
  int sync() override;

 private:
  bool hand_over();  // false when Python refused the text

  pybind11::object file_;
  std::string pending_;
};

// sys.stdout as an ostream for the duration of one engine call.
class PythonStdout {
 public:
  PythonStdout();
  std::ostream& stream() { return stream_; }
  // Whether sys.stdout is a terminal: progress then redraws in place, as Keras's bar does.
  bool is_terminal() const { return terminal_; }

 private:
  PythonTextBuffer buffer_;
  std::ostream stream_;
  bool terminal_ = false;
};

}  // namespace loom::python
