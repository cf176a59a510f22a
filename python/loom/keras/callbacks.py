"""Keras's callbacks: write your own by subclassing Callback, or use the built-in ones (the engine runs all but
CSVLogger, which is written here as Keras's is).

fit calls a Python callback's hooks between training steps with the GIL held: on_train_begin, on_epoch_begin,
on_train_batch_begin / on_train_batch_end (only when overridden: a call per step costs time), on_epoch_end with the
epoch's logs ({'loss', 'accuracy'} and, when validating, {'val_loss', 'val_accuracy'}), on_train_end. Setting
``self.model.stop_training = True`` ends training after the current step or epoch.
"""

import csv
import inspect
import io
import os

from .. import _engine


class Callback:
    """Keras's base class: override the hooks you need; self.model and self.params are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def _overrides_batch_hooks(self):
        cls = type(self)
        return any(getattr(cls, hook) is not getattr(Callback, hook)
                   for hook in ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"))


class History(Callback):
    """What fit returns: history[name] lists each epoch's figure; epoch lists the epochs trained."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def _record(self, epochs, first_epoch, with_learning_rate=False):
        keys = ("loss", "accuracy", "val_loss", "val_accuracy") + (("learning_rate",) if with_learning_rate else ())
        for i, logs in enumerate(epochs):
            self.epoch.append(first_epoch + i)
            for key in keys:
                if key in logs:
                    self.history.setdefault(key, []).append(logs[key])

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _mode(mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return mode


def _monitor(monitor):
    if monitor not in ("loss", "accuracy", "val_loss", "val_accuracy"):
        raise ValueError(f"monitor must be 'loss', 'accuracy', 'val_loss' or 'val_accuracy', got {monitor!r}")
    return monitor


class _EngineCallback:
    """A built-in callback: the engine runs it (its figures, words and checks are the apps')."""

    def _engine_callback(self):
        return self._engine

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params


class EarlyStopping(_EngineCallback):
    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        if baseline is not None:
            raise ValueError("EarlyStopping: loom has no baseline (baseline=None)")
        if start_from_epoch != 0:
            raise ValueError("EarlyStopping: loom counts from the first epoch (start_from_epoch=0)")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be a whole number, got {patience!r}")
        self.monitor = _monitor(monitor)
        self._engine = _engine.EarlyStopping(self.monitor, abs(float(min_delta)), patience, _mode(mode),
                                             bool(restore_best_weights))

    @property
    def stopped_epoch(self):
        """The epoch (from 0) training stopped after, or 0 when it did not stop early (Keras's convention)."""
        return max(self._engine.stopped_epoch, 0)

    @property
    def best_epoch(self):
        return self._engine.best_epoch


class TerminateOnNaN(_EngineCallback):
    """Stops training quietly at the first NaN or infinite loss (without it, fit raises loom.EngineError)."""

    def __init__(self):
        self._engine = _engine.TerminateOnNaN()


class ReduceLROnPlateau(_EngineCallback):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0, **kwargs):
        if "epsilon" in kwargs:  # Keras 2's old name of min_delta
            min_delta = kwargs.pop("epsilon")
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: keyword argument not understood: {', '.join(sorted(kwargs))}")
        if not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must lie in (0, 1), got {factor!r}")
        self.monitor = _monitor(monitor)
        self._engine = _engine.ReduceLROnPlateau(self.monitor, float(factor), int(patience), _mode(mode),
                                                 float(min_delta), int(cooldown), float(min_lr))


class LearningRateScheduler(_EngineCallback):
    """Before each epoch, the rate becomes schedule(epoch, rate) (or schedule(epoch) for a one-argument function)."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise ValueError(f"LearningRateScheduler: schedule must be a function, got {schedule!r}")
        try:
            takes_rate = len(inspect.signature(schedule).parameters) >= 2
        except (TypeError, ValueError):
            takes_rate = True
        function = schedule if takes_rate else (lambda epoch, rate: schedule(epoch))

        def checked(epoch, rate):
            new_rate = function(epoch, rate)
            if isinstance(new_rate, bool) or not isinstance(new_rate, (int, float)) or not new_rate > 0:
                raise ValueError(f"LearningRateScheduler: the schedule returned {new_rate!r} for epoch {epoch}; "
                                 "it must return a positive number")
            return float(new_rate)

        self._engine = _engine.LearningRateScheduler(checked)


class CSVLogger(Callback):
    """Keras's CSVLogger: a row per epoch (epoch, then the keys of the epoch's logs in sorted order: accuracy, loss
    and, when validating, val_accuracy, val_loss), the file written whole after
    every epoch (a new file replaces the old one only once complete, so a run that stops keeps what it logged). With
    append=True the rows follow what the file held when training began."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.filename = os.fsdecode(filename)
        self.separator = separator
        self.append = bool(append)
        folder = os.path.dirname(os.path.abspath(self.filename))
        if not os.path.isdir(folder):
            raise ValueError(f"CSVLogger: the folder of '{self.filename}' does not exist")

    def on_train_begin(self, logs=None):
        self._earlier = ""
        if self.append and os.path.exists(self.filename):
            with open(self.filename, newline="") as f:
                self._earlier = f.read()
        self._keys = None
        self._rows = []

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self._keys is None:
            self._keys = sorted(logs)
        self._rows.append([epoch] + [logs.get(key, "NA") for key in self._keys])
        text = io.StringIO()
        writer = csv.writer(text, delimiter=self.separator, lineterminator="\n")
        if not self._earlier:
            writer.writerow(["epoch"] + self._keys)
        writer.writerows(self._rows)
        partial = self.filename + ".partial"
        with open(partial, "w", newline="") as f:
            f.write(self._earlier + text.getvalue())
        os.replace(partial, self.filename)


__all__ = ["CSVLogger", "Callback", "EarlyStopping", "History", "LearningRateScheduler", "ReduceLROnPlateau",
           "TerminateOnNaN"]
