"""Callbacks as the tutorials write them and Keras's built-in ones; Ctrl-C; the GIL released while training."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from conftest import tutorial_mlp, weights_equal
from loom import keras


class Recorder(keras.callbacks.Callback):
    def __init__(self, batches=False):
        super().__init__()
        self.calls = []
        self.batches = batches

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", dict(logs or {})))


class BatchRecorder(Recorder):
    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, dict(logs or {})))


def test_hooks_in_keras_order_with_the_epochs_logs(small):
    (x, y), (xt, yt) = small
    recorder = Recorder()
    model = tutorial_mlp()
    history = model.fit(x, y, epochs=2, validation_data=(xt, yt), callbacks=[recorder], verbose=0)
    assert recorder.model is model and recorder.params == {"verbose": 0, "epochs": 2, "steps": 32}
    names = [c[0] for c in recorder.calls]
    assert names == ["train_begin", "epoch_begin", "epoch_end", "epoch_begin", "epoch_end", "train_end"]
    logs = recorder.calls[4][2]
    assert sorted(logs) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert logs["loss"] == history.history["loss"][1]
    assert recorder.calls[-1][1] == logs


def test_batch_hooks_see_running_figures(small):
    (x, y), _ = small
    recorder = BatchRecorder()
    tutorial_mlp().fit(x, y, epochs=1, callbacks=[recorder], verbose=0)
    batches = [c for c in recorder.calls if c[0] == "batch_end"]
    assert [c[1] for c in batches] == list(range(32))
    assert 0 < batches[-1][2]["loss"] < 10 and 0 <= batches[-1][2]["accuracy"] <= 1


def test_the_tutorials_stop_callback(small, capsys):
    (x, y), _ = small

    class myCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs={}):
            if logs.get("loss") < 0.9:
                print("\nLoss is low so cancelling training!")
                self.model.stop_training = True

    history = tutorial_mlp(softmax=True).fit(x, y, epochs=20, callbacks=[myCallback()])
    assert 1 <= len(history.epoch) < 20 and history.history["loss"][-1] < 0.9
    assert all(loss >= 0.9 for loss in history.history["loss"][:-1])
    assert "cancelling training" in capsys.readouterr().out


def test_stopping_mid_epoch_from_a_batch_hook(small):
    (x, y), _ = small

    class StopAtBatch(keras.callbacks.Callback):
        def on_batch_end(self, batch, logs=None):
            self.last = batch
            if batch == 4:
                self.model.stop_training = True

    stop = StopAtBatch()
    history = tutorial_mlp().fit(x, y, epochs=3, callbacks=[stop], verbose=0)
    assert stop.last == 4 and history.epoch == [0]


def test_an_exception_in_a_callback_reaches_the_caller(small):
    (x, y), (xt, _) = small

    class Broken(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise ZeroDivisionError("from the callback")

    model = tutorial_mlp()
    with pytest.raises(ZeroDivisionError, match="from the callback"):
        model.fit(x, y, epochs=2, callbacks=[Broken()], verbose=0)
    assert np.isfinite(model.predict(xt)).all()
    model.fit(x, y, epochs=1, verbose=0)  # the model trains on


def test_early_stopping_restores_the_best_weights(small, capsys):
    (x, y), (xt, yt) = small
    stopper = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10, restore_best_weights=True)
    model = tutorial_mlp()
    history = model.fit(x, y, epochs=5, callbacks=[stopper])
    assert history.epoch == [0, 1] and stopper.stopped_epoch == 1 and stopper.best_epoch == 0
    assert "Epoch 2: early stopping" in capsys.readouterr().out


def test_terminate_on_nan_stops_quietly_and_without_it_fit_raises(small):
    import loom
    (x, y), _ = small
    diverging = dict(optimizer=keras.optimizers.SGD(learning_rate=1e30),
                     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model = tutorial_mlp()
    model.compile(metrics=["accuracy"], **diverging)
    history = model.fit(x, y, epochs=3, callbacks=[keras.callbacks.TerminateOnNaN()], verbose=0)
    assert history.epoch == [0] and not np.isfinite(history.history["loss"][0])
    model = tutorial_mlp()
    model.compile(**diverging)
    with pytest.raises(loom.EngineError, match="the loss became"):
        model.fit(x, y, epochs=3, verbose=0)


def test_learning_rate_scheduler_sets_the_rate(small):
    (x, y), _ = small
    seen = []

    def schedule(epoch, rate):
        seen.append((epoch, rate))
        return 1e-3 if epoch == 0 else 1e-30

    model = tutorial_mlp()
    model.fit(x, y, epochs=1, verbose=0)
    after_one = model.get_weights()
    model = tutorial_mlp()
    model.fit(x, y, epochs=2, callbacks=[keras.callbacks.LearningRateScheduler(schedule)], verbose=0)
    assert [epoch for epoch, _ in seen] == [0, 1] and seen[0][1] == pytest.approx(1e-3)
    # The second epoch's rate is too small to move any weight by as much as their own rounding.
    for a, b in zip(after_one, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="returned -1"):
        tutorial_mlp().fit(x, y, epochs=1, verbose=0,
                           callbacks=[keras.callbacks.LearningRateScheduler(lambda epoch: -1)])


def test_reduce_lr_on_plateau_puts_the_rates_in_the_history(small):
    (x, y), _ = small
    history = tutorial_mlp().fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=0, min_delta=10)])
    # No epoch improves val_loss by 10: the first sets the best, the second's end cuts the third's rate tenfold.
    assert history.history["learning_rate"] == pytest.approx([1e-3, 1e-3, 1e-4])


def test_csv_logger_writes_keras_rows_and_appends(small, tmp_path):
    (x, y), _ = small
    path = tmp_path / "training.log"  # Keras's own example's name: any name is a CSV file
    logger = keras.callbacks.CSVLogger(path, append=True)
    model = tutorial_mlp()
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[logger])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and len(lines) == 3
    assert [float(v) for v in lines[2].split(",")[1:]] == pytest.approx(
        [history.history[k][1] for k in ("accuracy", "loss", "val_accuracy", "val_loss")])
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[logger])  # the same logger again
    assert len(path.read_text().splitlines()) == 4
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, callbacks=[keras.callbacks.CSVLogger(path)])
    assert len(path.read_text().splitlines()) == 2
    with pytest.raises(ValueError, match="does not exist"):
        keras.callbacks.CSVLogger(tmp_path / "no" / "log.csv")


def test_ctrl_c_is_not_lost_in_a_python_stdout(small, monkeypatch):
    """A notebook's sys.stdout is Python code: a Ctrl-C that Python raises inside its write still ends fit."""
    (x, y), (xt, yt) = small

    class PythonStream:
        def __init__(self):
            self.text = []

        def write(self, text):
            self.text.append(text)
            return len(text)

        def flush(self):
            pass

    monkeypatch.setattr("sys.stdout", PythonStream())
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            tutorial_mlp().fit(np.tile(x, (16, 1, 1)), np.tile(y, 16), epochs=200, verbose=1,
                               validation_data=(np.tile(xt, (20, 1, 1)), np.tile(yt, 20)))
    finally:
        timer.cancel()


def test_ctrl_c_ends_fit_between_steps_with_the_model_usable(small):
    (x, y), (xt, _) = small
    model = tutorial_mlp()
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(np.tile(x, (64, 1, 1)), np.tile(y, 64), epochs=100, verbose=0)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 60  # 100 epochs of 65,536 images would take many minutes
    assert np.isfinite(model.predict(xt)).all()
    model.fit(x, y, epochs=1, verbose=0)


def test_pythons_other_signal_handlers_run_during_fit(small):
    (x, y), (xt, _) = small

    def alarm(signum, frame):
        raise TimeoutError("the alarm rang")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    model = tutorial_mlp()
    try:
        with pytest.raises(TimeoutError, match="the alarm rang"):
            model.fit(np.tile(x, (64, 1, 1)), np.tile(y, 64), epochs=100, verbose=0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit's own handler is gone
    assert np.isfinite(model.predict(xt)).all()


def test_the_gil_is_released_while_the_engine_trains(small):
    (x, y), _ = small
    ticks = [0]
    running = threading.Event()
    running.set()

    def count():
        while running.is_set():
            ticks[0] += 1

    class TicksDuringTheEpoch(keras.callbacks.Callback):
        """Between these two hooks only the engine runs: the counter can count only if it let the GIL go."""

        def on_epoch_begin(self, epoch, logs=None):
            self.begin = ticks[0]

        def on_epoch_end(self, epoch, logs=None):
            self.during = ticks[0] - self.begin

    window = TicksDuringTheEpoch()
    counter = threading.Thread(target=count)
    counter.start()
    try:
        tutorial_mlp().fit(np.tile(x, (4, 1, 1)), np.tile(y, 4), epochs=1, verbose=0, callbacks=[window])
    finally:
        running.clear()
        counter.join()
    assert window.during > 1000


def test_callbacks_are_reusable_and_trained_models_match_without_them(small):
    (x, y), _ = small
    plain, watched = tutorial_mlp(), tutorial_mlp()
    plain.fit(x, y, epochs=2, verbose=0)
    watched.fit(x, y, epochs=2, verbose=0, callbacks=[Recorder(), BatchRecorder()])
    assert weights_equal(plain.get_weights(), watched.get_weights())
