// Python's side of fit's callback hooks: a keras.callbacks.Callback written in Python, called at Keras's hooks
// with the GIL held, and the watch that lets Ctrl-C end fit between two steps.
#pragma once

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

// Looks for a pending signal (Ctrl-C's KeyboardInterrupt) after every step and raises it there: fit ends with the
// model as the last whole step left it, without the epoch's validation pass.
class InterruptWatch : public Callback {
 public:
  void on_batch_end(FitContext& context, int64_t step) override;
};

// Keras's logs of an epoch: {"loss", "accuracy"} and, when validated, {"val_loss", "val_accuracy"}.
pybind11::dict epoch_logs(const EpochResult& epoch);

}  // namespace loom::python
