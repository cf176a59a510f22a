"""Keras's Sequential over loom's engine.

The model is built in the engine the first time its input shape is known: from the first layer's input_shape (or a
keras.Input), else from the first data given to fit, evaluate or predict, as Keras infers it. fit, evaluate and
predict run in the engine with the GIL released; Python callbacks are called between steps.
"""

import os
import sys

import numpy as np

from .. import _engine, config
from . import _inputs, callbacks as callbacks_module, layers as layers_module, losses, optimizers

_ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy")


def _verbosity(verbose, default):
    if verbose == "auto":
        return default
    if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return verbose


def _whole(value, what, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{what} must be an integer of at least {low}, got {value!r}")
    return int(value)


def _refuse(what, value, default, why):
    if value is not default and (default is None or isinstance(value, np.ndarray) or value != default):
        raise ValueError(f"{what}: {why}")


class Sequential:
    """A linear stack of layers; another Sequential may be its first entry (its layers and weights are shared, as in
    ``keras.Sequential([model, keras.layers.Softmax()])``)."""

    def __init__(self, layers=None, name=None):
        self.name = name or "sequential"
        self._entries = []
        self._engine = None
        self._optimizer = None
        self._loss = None
        self._metrics = None
        self.stop_training = False
        self.history = None
        self._fitting = False  # while fit runs, this model's engine holds the newest weights
        for layer in layers or []:
            self.add(layer)

    # ---- the stack -------------------------------------------------------------------------------------------------

    def add(self, layer):
        if self._engine is not None:
            raise ValueError("cannot add layers to a model that is already built (loom builds a model once)")
        if isinstance(layer, Sequential):
            if self._entries:
                raise ValueError("loom nests a model only as the first entry of a Sequential")
        elif not isinstance(layer, layers_module.Layer):
            raise TypeError(f"Sequential takes keras.layers layers (or a Sequential first), got {layer!r}")
        elif isinstance(layer, layers_module.InputLayer) and self._entries:
            raise ValueError("an Input belongs first in a Sequential")
        if self._entries and not isinstance(layer, Sequential) and layer.input_shape is not None:
            raise ValueError(f"{type(layer).__name__} has an input_shape but is not the first layer")
        self._entries.append(layer)

    def pop(self):
        if self._engine is not None:
            raise ValueError("cannot remove layers from a model that is already built")
        if not self._entries:
            raise TypeError("there are no layers in the model")
        return self._entries.pop()

    @property
    def layers(self):
        """The layers, a nested model's included (Keras lists the nested model itself)."""
        return [e for e in self._entries if not isinstance(e, layers_module.InputLayer)]

    def _flat_layers(self):
        flat = []
        for entry in self._entries:
            if isinstance(entry, Sequential):
                flat.extend(entry._flat_layers())
            elif not isinstance(entry, layers_module.InputLayer):
                flat.append(entry)
        return flat

    def _declared_input_shape(self):
        if not self._entries:
            return None
        first = self._entries[0]
        if isinstance(first, Sequential):
            return first._input_shape if first.built else first._declared_input_shape()
        return first.input_shape

    @property
    def built(self):
        return self._engine is not None

    @property
    def input_shape(self):
        shape = self._declared_input_shape() if self._engine is None else self._input_shape
        return None if shape is None else (None,) + tuple(shape)

    @property
    def output_shape(self):
        self._require_built("output_shape")
        return (None,) + tuple(self._engine.output_shape())

    @property
    def optimizer(self):
        return self._optimizer

    @property
    def loss(self):
        return self._loss

    # ---- building --------------------------------------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, weighted_metrics=None,
                run_eagerly=None, steps_per_execution=None, jit_compile=None, **kwargs):
        if kwargs:
            raise TypeError(f"compile: keyword argument not understood: {', '.join(sorted(kwargs))}")
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='sparse_categorical_crossentropy'")
        optimizer_object = optimizers.get(optimizer)
        losses.from_logits_of(loss)
        metric_list = [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        for metric in metric_list:
            if metric not in _ACCURACY_NAMES:
                raise ValueError(f"compile: metric {metric!r} is not one loom has: it computes 'accuracy'")
        _refuse("compile", loss_weights, None, "loom has one loss (loss_weights=None)")
        _refuse("compile", weighted_metrics, None, "loom has no weighted metrics (weighted_metrics=None)")
        self._optimizer, self._loss, self._metrics = optimizer_object, loss, metric_list
        if self._engine is not None:  # compiled again: the weights stay, the optimizer starts afresh (as Keras)
            weights = self._engine.get_weights()
            self._make_engine(self._input_shape, self._engine.device())
            self._engine.set_weights([array for _, array in weights])
        elif self._declared_input_shape() is not None:  # built now, as Keras builds a model whose input is known
            self.build()

    def build(self, input_shape=None):
        """Builds the model for samples of input_shape ((None, 28, 28) or (28, 28)); the first layer's by default."""
        if self._engine is not None:
            return
        shape = self._declared_input_shape() if input_shape is None else layers_module._shape(
            input_shape, "build's input_shape")
        if shape is None:
            raise ValueError("this model has no input shape yet: give the first layer input_shape=..., call "
                             "build(input_shape), or fit or predict on data first")
        self._make_engine(tuple(shape))

    def _make_engine(self, input_shape, device=None):
        flat = self._flat_layers()
        if not flat:
            raise ValueError("this model has no layers")
        optimizer = self._optimizer or optimizers.Adam()
        from_logits = losses.from_logits_of(self._loss) if self._loss is not None else False
        self._engine = _engine.Model([layer._entry() for layer in flat], list(input_shape), optimizer._entry(),
                                     from_logits, device or config.get_device(), config.get_seed())
        self._input_shape = tuple(input_shape)
        self._pull_nested_weights()

    def _ensure_built(self, x, what):
        if self._engine is None:
            shape = self._declared_input_shape()
            self.build(shape if shape is not None else _inputs.sample_shape_of(x, what))
        self._pull_nested_weights()

    def _inputs_for(self, x, convert):
        """convert() once the model is built (for x's samples, when nothing gave its input shape before); a model
        built here for data that convert() then refuses is not kept."""
        built_here = self._engine is None
        self._ensure_built(x, "x")
        try:
            return convert()
        except Exception:
            if built_here:
                self._engine = None
            raise

    def _require_built(self, what):
        if self._engine is None and self._declared_input_shape() is not None:
            self.build()
        if self._engine is None:
            raise ValueError(f"{what}: this model is not built yet: give the first layer input_shape=..., call "
                             "build(input_shape), or fit or predict on data first")

    def _require_compiled(self, what):
        if self._loss is None:
            raise RuntimeError(f"You must compile your model before {what}: call model.compile(optimizer, loss)")

    # A nested model's weights are shared: read before the outer model computes, written back after it trains.
    def _nested(self):
        return self._entries[0] if self._entries and isinstance(self._entries[0], Sequential) else None

    def _pull_nested_weights(self):
        inner = self._nested()
        if inner is None or self._engine is None or inner._engine is None or self._fitting:
            return
        inner._pull_nested_weights()
        theirs = dict(inner._engine.get_weights())
        mine = self._engine.get_weights()
        self._engine.set_weights([theirs.get(name, array) for name, array in mine])

    def _push_nested_weights(self):
        inner = self._nested()
        if inner is None or self._engine is None:
            return
        if inner._engine is None:
            inner.build(self._input_shape)
        mine = dict(self._engine.get_weights())
        inner._engine.set_weights([mine[name] for name, _ in inner._engine.get_weights()])
        inner._push_nested_weights()

    # ---- what users call -------------------------------------------------------------------------------------------

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
                layer_range=None):
        self._require_built("summary")
        text = self._engine.summary()
        if print_fn is None:
            sys.stdout.write(text)
        else:
            for line in text.rstrip("\n").split("\n"):
                print_fn(line)

    def count_params(self):
        self._require_built("count_params")
        return self._engine.param_count()

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1,
            max_queue_size=10, workers=1, use_multiprocessing=False):
        self._require_compiled("training")
        _refuse("fit", class_weight, None, "loom has no class weights (class_weight=None)")
        _refuse("fit", sample_weight, None, "loom has no sample weights (sample_weight=None)")
        _refuse("fit", validation_steps, None, "loom validates on all the validation data (validation_steps=None)")
        _refuse("fit", validation_freq, 1, "loom validates after every epoch (validation_freq=1)")
        if x is None:
            raise ValueError("fit: x is missing")
        arguments = _engine.FitOptions()
        arguments.epochs = _whole(epochs, "fit: epochs", 1)
        arguments.initial_epoch = _whole(initial_epoch, "fit: initial_epoch", 0)
        if arguments.initial_epoch >= arguments.epochs:
            raise ValueError(f"fit: initial_epoch ({initial_epoch}) must be below epochs ({epochs})")
        arguments.batch_size = 32 if batch_size is None else _whole(batch_size, "fit: batch_size", 1)
        if validation_batch_size is not None and validation_batch_size != arguments.batch_size:
            raise ValueError("fit: loom validates with the training batch size (validation_batch_size=None)")
        if shuffle not in (True, False):
            raise ValueError(f"fit: shuffle must be True or False, got {shuffle!r}")
        arguments.shuffle = bool(shuffle)
        arguments.verbose = _verbosity(verbose, 1)
        arguments.max_steps_per_epoch = 0 if steps_per_epoch is None else _whole(steps_per_epoch,
                                                                                "fit: steps_per_epoch", 1)
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)) or not (
                0 <= validation_split < 1):
            raise ValueError(f"fit: validation_split must be a number in [0, 1), got {validation_split!r}")

        def convert():
            classes = self._engine.output_shape()[-1]
            images = _inputs.pixels(x, self._input_shape, "x")
            labels = _inputs.labels(y, len(images), classes, "y")
            if validation_data is None:
                return images, labels, None
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
            if len(validation_data) == 3 and validation_data[2] is not None:
                raise ValueError("fit: loom has no sample weights in validation_data")
            val_images = _inputs.pixels(validation_data[0], self._input_shape, "validation_data's x")
            return images, labels, (val_images, _inputs.labels(validation_data[1], len(val_images), classes,
                                                               "validation_data's y"))

        images, labels, validation = self._inputs_for(x, convert)
        if validation is None:
            arguments.validation_split = float(validation_split)

        history = callbacks_module.History()
        user_callbacks = list(callbacks or [])
        steps = -(-int(len(images) * (1 - arguments.validation_split) if validation is None else len(images))
                  // arguments.batch_size)
        if arguments.max_steps_per_epoch:
            steps = min(steps, arguments.max_steps_per_epoch)
        params = {"verbose": arguments.verbose, "epochs": arguments.epochs, "steps": steps}
        entries = []
        for callback in user_callbacks:
            if isinstance(callback, callbacks_module._EngineCallback):
                entries.append(callback._engine_callback())
            elif isinstance(callback, callbacks_module.Callback):
                entries.append((callback, callback._overrides_batch_hooks()))
            else:
                raise ValueError(f"fit: callbacks must be keras.callbacks.Callback objects, got {callback!r}")
            callback.set_model(self)
            callback.set_params(params)
        arguments.stop_on_nan = not any(isinstance(c, callbacks_module.TerminateOnNaN) for c in user_callbacks)
        history.set_model(self)
        history.set_params(params)
        # As Keras 3: the rate of every epoch is in the history when a callback changes it.
        rate_changes = any(isinstance(c, (callbacks_module.ReduceLROnPlateau, callbacks_module.LearningRateScheduler))
                           for c in user_callbacks)

        self.stop_training = False
        fitting_already = self._fitting  # a callback's fit inside this one
        self._fitting = True
        try:
            epochs_done = self._engine.fit(images, labels, arguments, validation, entries, self)
        finally:  # after an interrupt too: the weights of the last whole step are the model's
            self._fitting = fitting_already
            self._push_nested_weights()
        history._record(epochs_done, arguments.initial_epoch, rate_changes)
        self.history = history
        return history

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
                 callbacks=None, max_queue_size=10, workers=1, use_multiprocessing=False, return_dict=False):
        self._require_compiled("evaluating it")
        _refuse("evaluate", sample_weight, None, "loom has no sample weights (sample_weight=None)")
        _refuse("evaluate", steps, None, "loom evaluates all the data (steps=None)")
        if x is None:
            raise ValueError("evaluate: x is missing")
        batch = 32 if batch_size is None else _whole(batch_size, "evaluate: batch_size", 1)
        quiet = _verbosity(verbose, 1) == 0
        def convert():
            images = _inputs.pixels(x, self._input_shape, "x")
            return images, _inputs.labels(y, len(images), self._engine.output_shape()[-1], "y")

        images, labels = self._inputs_for(x, convert)
        loss, accuracy = self._engine.evaluate(images, labels, batch, 0 if quiet else 1)
        if return_dict:
            return {"loss": loss, "accuracy": accuracy} if self._metrics else {"loss": loss}
        return [loss, accuracy] if self._metrics else loss

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None, max_queue_size=10, workers=1,
                use_multiprocessing=False):
        _refuse("predict", steps, None, "loom predicts all the data (steps=None)")
        batch = 32 if batch_size is None else _whole(batch_size, "predict: batch_size", 1)
        _verbosity(verbose, 1)
        inputs = self._inputs_for(x, lambda: _inputs.model_inputs(x, self._input_shape, "x"))
        return self._engine.predict(inputs, batch)

    def __call__(self, x):
        """The model's outputs for a batch, as a NumPy array (Keras returns a tensor)."""
        return self.predict(x, verbose=0)

    # ---- weights ---------------------------------------------------------------------------------------------------

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        """A safetensors file (the apps' format: PyTorch and every safetensors reader open it)."""
        self._require_built("save_weights")
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"'{path}' exists and overwrite=False")
        self._pull_nested_weights()
        self._engine.save_weights(path)

    def export_onnx(self, filepath):
        """An ONNX file for ONNX Runtime, TensorRT and other ONNX readers (docs/ONNX.md), as the export_onnx program
        writes: input "images", float (N, <input shape>) with pixels scaled to 0..1; output "probabilities", float
        (N, classes), what loom's predict program gives (a softmax added where the loss takes logits; a model never
        compiled whose last layer has no softmax gives its outputs as "outputs")."""
        self._require_built("export_onnx")
        self._pull_nested_weights()
        self._engine.export_onnx(os.fspath(filepath), True)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras's export, in format="onnx": the model's own outputs, as Keras exports them (the logits of a model
        whose loss takes logits, named "logits"; the probabilities of one that ends in a softmax). export_onnx adds the
        softmax where the loss takes logits."""
        if format != "onnx":
            raise ValueError(f"export: loom writes format='onnx' only, got format={format!r}")
        _refuse("export", input_signature, None, "loom's graph takes the model's own input shape, with any batch "
                "size (input_signature=None)")
        opset = kwargs.pop("opset_version", None)
        if opset is not None and opset != _engine.ONNX_OPSET:
            raise ValueError(f"export: loom writes ONNX opset {_engine.ONNX_OPSET}, got opset_version={opset!r}")
        if kwargs:
            raise TypeError(f"export got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        self._require_built("export")
        self._pull_nested_weights()
        path = os.fspath(filepath)
        self._engine.export_onnx(path, False)
        if verbose is None or verbose:
            print(f"Saved artifact at '{path}'.")

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, options=None):
        """Reads weights saved by save_weights or by loom's programs (a checkpoint too); the file must hold this
        model's architecture."""
        self._require_built("load_weights")
        _refuse("load_weights", skip_mismatch, False, "loom loads a file of this model whole (skip_mismatch=False)")
        _refuse("load_weights", by_name, False, "loom loads a file of this model whole (by_name=False)")
        self._engine.load_weights(os.fspath(filepath))
        self._push_nested_weights()

    def get_weights(self):
        self._require_built("get_weights")
        self._pull_nested_weights()
        return [array for _, array in self._engine.get_weights()]

    def set_weights(self, weights):
        self._require_built("set_weights")
        self._engine.set_weights([np.ascontiguousarray(w, dtype=np.float32) for w in weights])
        self._push_nested_weights()

    @property
    def weights(self):
        """(name, array) for every parameter, in the order get_weights lists them."""
        self._require_built("weights")
        self._pull_nested_weights()
        return self._engine.get_weights()


__all__ = ["Sequential"]
