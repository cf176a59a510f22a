#include "python/bindings/python_callbacks.h"

#include <signal.h>

#include <atomic>

#include "engine/training/callbacks.h"

namespace py = pybind11;

namespace loom::python {

py::dict epoch_logs(const EpochResult& epoch) {
  py::dict logs;
  logs["loss"] = epoch.loss;
  logs["accuracy"] = epoch.accuracy;
  if (epoch.validated) {
    logs["val_loss"] = epoch.val_loss;
    logs["val_accuracy"] = epoch.val_accuracy;
  }
  return logs;
}

PythonCallback::PythonCallback(py::object callback, py::object model, bool batch_hooks)
    : callback_(std::move(callback)), model_(std::move(model)), batch_hooks_(batch_hooks) {}

PythonCallback::~PythonCallback() {
  py::gil_scoped_acquire gil;
  callback_ = py::object();
  model_ = py::object();
  last_logs_ = py::dict();
}

void PythonCallback::after_hook(FitContext& context) {
  if (py::bool_(model_.attr("stop_training"))) context.stop_training = true;
}

void PythonCallback::on_train_begin(FitContext& context) {
  py::gil_scoped_acquire gil;
  callback_.attr("on_train_begin")(py::dict());
  after_hook(context);
}

void PythonCallback::on_train_end(FitContext& context, History&) {
  py::gil_scoped_acquire gil;
  callback_.attr("on_train_end")(last_logs_);
  after_hook(context);
}

void PythonCallback::on_epoch_begin(FitContext& context, int epoch) {
  py::gil_scoped_acquire gil;
  callback_.attr("on_epoch_begin")(epoch, py::dict());
  after_hook(context);
}

void PythonCallback::on_epoch_end(FitContext& context, int epoch, EpochResult& result) {
  py::gil_scoped_acquire gil;
  last_logs_ = epoch_logs(result);
  callback_.attr("on_epoch_end")(epoch, py::dict(last_logs_));
  after_hook(context);
}

void PythonCallback::on_batch_begin(FitContext& context, int64_t step) {
  if (!batch_hooks_) return;
  py::gil_scoped_acquire gil;
  callback_.attr("on_train_batch_begin")(step, py::dict());
  after_hook(context);
}

void PythonCallback::on_batch_end(FitContext& context, int64_t step) {
  if (!batch_hooks_) return;
  double loss = 0, accuracy = 0;
  const bool known = context.running_totals(loss, accuracy);
  py::gil_scoped_acquire gil;
  py::dict logs;
  if (known) {
    logs["loss"] = loss;
    logs["accuracy"] = accuracy;
  }
  callback_.attr("on_train_batch_end")(step, logs);
  after_hook(context);
}

namespace {

std::atomic<bool> interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler may only touch a lock-free flag");
struct sigaction python_handler;  // what InterruptWatch replaced, called on from its own handler

extern "C" void note_interrupt(int signal, siginfo_t* info, void* context) {
  interrupted.store(true, std::memory_order_relaxed);
  if (python_handler.sa_flags & SA_SIGINFO)
    python_handler.sa_sigaction(signal, info, context);
  else
    python_handler.sa_handler(signal);
}

bool in_main_thread() {
  py::object threading = py::module_::import("threading");
  return threading.attr("current_thread")().is(threading.attr("main_thread")());
}

bool is_ours(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) && action.sa_sigaction == note_interrupt;
}

bool is_function(const struct sigaction& action) {
  if (action.sa_flags & SA_SIGINFO) return action.sa_sigaction != nullptr;
  return action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN;
}

}  // namespace

void note_pending_interrupt() { interrupted.store(true, std::memory_order_relaxed); }

InterruptWatch::InterruptWatch() : main_thread_(in_main_thread()) {
  struct sigaction current {};
  if (!main_thread_ || sigaction(SIGINT, nullptr, &current) != 0 || !is_function(current)) return;
  if (is_ours(current)) return;  // a fit inside a fit: the outer one's handler stays
  python_handler = current;
  struct sigaction mine {};
  mine.sa_sigaction = note_interrupt;
  mine.sa_flags = SA_SIGINFO | (current.sa_flags & (SA_RESTART | SA_ONSTACK));
  sigemptyset(&mine.sa_mask);
  installed_ = sigaction(SIGINT, &mine, nullptr) == 0;
}

InterruptWatch::~InterruptWatch() {
  struct sigaction current {};
  // A callback that set a handler of its own meanwhile keeps it.
  if (installed_ && sigaction(SIGINT, nullptr, &current) == 0 && is_ours(current))
    sigaction(SIGINT, &python_handler, nullptr);
}

void InterruptWatch::on_batch_end(FitContext&, int64_t) {
  if (!main_thread_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!interrupted.exchange(false, std::memory_order_relaxed) && now - last_check_ < std::chrono::milliseconds(100))
    return;
  last_check_ = now;
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

}  // namespace loom::python
