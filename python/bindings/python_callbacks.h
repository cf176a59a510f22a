// Python's side of fit's callback hooks: a keras.callbacks.Callback written in Python, called at Keras's hooks
// with the GIL held, and the watch that lets Ctrl-C end fit between two steps.
#pragma once

#include <chrono>

#include <pybind11/pybind11.h>

#include "engine/training/callback.h"

namespace loom::python {

// Calls the Python callback's on_* methods (Keras's names and arguments: on_epoch_end(epoch, logs), logs a dict
// of the epoch's figures) and, after each, stops training when the Python model's stop_training is true. Batch hooks
// are called only when the callback overrides them (`batch_hooks`): a call per step costs time.
class PythonCallback : public Callback {
 public:
  PythonCallback(pybind11::object callback, pybind11::object model, bool batch_hooks);
  ~PythonCallback() override;

  bool reads_running_totals() const override { return batch_hooks_; }
  void on_train_begin(FitContext& context) override;
  void on_train_end(FitContext& context, History& history) override;
  void on_epoch_begin(FitContext& context, int epoch) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;
  void on_batch_begin(FitContext& context, int64_t step) override;
  void on_batch_end(FitContext& context, int64_t step) override;

 private:
  void after_hook(FitContext& context);  // with the GIL held

  pybind11::object callback_, model_;
  bool batch_hooks_;
  pybind11::dict last_logs_;
};

// Ctrl-C, and Python's other signal handlers, during fit. While it lives, a SIGINT handler of its own notes the signal
// in a flag and passes it on to the handler it replaced (Python's, which records it as always); after every step the
// flag is read without taking the GIL, so a step never waits for another Python thread. When it is set, and at least
// every 100 ms for the other signals Python has recorded (an alarm, a SIGTERM handler), Python's handlers run with the
// GIL held: a KeyboardInterrupt, or any exception they raise, ends fit there, with the model as the last whole step
// left it, without the epoch's validation pass. Only in Python's main thread, where Python runs its handlers; the
// handler is installed only over a function (a SIG_DFL or SIG_IGN is left alone) and put back only if still its own.
class InterruptWatch : public Callback {
 public:
  InterruptWatch();  // with the GIL held
  ~InterruptWatch() override;
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;
  void on_batch_end(FitContext& context, int64_t step) override;

 private:
  bool main_thread_ = false;
  bool installed_ = false;
  std::chrono::steady_clock::time_point last_check_{};  // the first step looks at once
};

// Makes the running InterruptWatch raise the pending interrupt after the current step: for a KeyboardInterrupt that
// Python raised where it could not propagate (inside a write to sys.stdout), and that Python has been told again.
void note_pending_interrupt();

// Keras's logs of an epoch: {"loss", "accuracy"} and, when validated, {"val_loss", "val_accuracy"}.
pybind11::dict epoch_logs(const EpochResult& epoch);

}  // namespace loom::python
