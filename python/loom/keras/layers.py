"""Keras's layers that loom's engine has, with Keras's arguments and defaults.

A layer here is a description: the model hands its settings to the engine, which builds and runs the layer. Settings
the engine does not support (another initializer, strides on a convolution) are refused with a ValueError naming
them, rather than silently ignored.
"""

import json

from . import activations


def _pair(value, what):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer or a pair of integers, got {value!r}") from None
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ValueError(f"{what} must be an integer or a pair of positive integers, got {value!r}")
    return list(pair)


def _shape(value, what):
    try:
        shape = tuple(value)
    except TypeError:
        raise ValueError(f"{what} must be a tuple of positive integers, got {value!r}") from None
    if shape and shape[0] is None:  # Keras's batch_input_shape style (None, 28, 28)
        shape = shape[1:]
    if not 1 <= len(shape) <= 3 or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
        raise ValueError(f"{what} must be 1 to 3 positive integers, got {value!r}")
    return shape


def _unsupported(layer, setting, value, default):
    if value != default:
        raise ValueError(f"{layer}: loom supports only {setting}={default!r}, got {value!r}")


class Layer:
    """What every layer takes: an optional name and input_shape (the model's, when it is the first layer)."""

    _class_name = None

    def __init__(self, name=None, input_shape=None, trainable=True, dtype=None, **kwargs):
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if input_shape is None:
            input_shape = batch_input_shape
        if kwargs:
            raise TypeError(f"{type(self).__name__}: keyword argument not understood: {', '.join(sorted(kwargs))}")
        self.name = name
        self.trainable = trainable
        self.input_shape = None if input_shape is None else _shape(input_shape, f"{type(self).__name__} input_shape")
        if dtype not in (None, "float32"):
            raise ValueError(f"{type(self).__name__}: loom computes in float32, got dtype={dtype!r}")
        if not trainable:
            raise ValueError(f"{type(self).__name__}: loom trains every layer (trainable=False is not supported)")

    def get_config(self):
        return {}

    def _entry(self):
        """The layer as the engine's architecture holds it."""
        return json.dumps({"class_name": self._class_name, "config": self.get_config()})

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"


class InputLayer(Layer):
    """The model's input shape, and nothing else (Keras's keras.Input(shape=...) in a Sequential)."""

    def __init__(self, input_shape=None, shape=None, name=None, **kwargs):
        given = shape if shape is not None else input_shape
        if given is None:
            raise ValueError("InputLayer needs the shape of one sample, e.g. shape=(28, 28)")
        super().__init__(name=name, input_shape=given, **kwargs)


def Input(shape=None, name=None, **kwargs):
    """Keras's keras.Input for a Sequential's first entry: the shape of one sample, e.g. (28, 28)."""
    return InputLayer(shape=shape, name=name, **kwargs)


class Flatten(Layer):
    _class_name = "Flatten"

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Flatten: loom supports only data_format='channels_last', got {data_format!r}")


class Dense(Layer):
    _class_name = "Dense"

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, input_dim=None, **kwargs):
        if input_dim is not None and "input_shape" not in kwargs:
            kwargs["input_shape"] = (input_dim,)
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        self.units = units
        self.activation = activations.serialize(activation)
        _unsupported("Dense", "use_bias", use_bias, True)
        _unsupported("Dense", "kernel_initializer", kernel_initializer, "glorot_uniform")
        _unsupported("Dense", "bias_initializer", bias_initializer, "zeros")
        for setting, value in (("kernel_regularizer", kernel_regularizer), ("bias_regularizer", bias_regularizer),
                               ("activity_regularizer", activity_regularizer),
                               ("kernel_constraint", kernel_constraint), ("bias_constraint", bias_constraint)):
            _unsupported("Dense", setting, value, None)

    def get_config(self):
        return {"units": self.units, "activation": self.activation}


class Conv2D(Layer):
    _class_name = "Conv2D"

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive integer, got {filters!r}")
        self.filters = filters
        self.kernel_size = _pair(kernel_size, "Conv2D kernel_size")
        _unsupported("Conv2D", "strides", _pair(strides, "Conv2D strides"), [1, 1])
        _unsupported("Conv2D", "dilation_rate", _pair(dilation_rate, "Conv2D dilation_rate"), [1, 1])
        if padding not in ("valid", "same"):
            raise ValueError(f"Conv2D: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Conv2D: loom supports only data_format='channels_last', got {data_format!r}")
        _unsupported("Conv2D", "groups", groups, 1)
        _unsupported("Conv2D", "use_bias", use_bias, True)
        _unsupported("Conv2D", "kernel_initializer", kernel_initializer, "glorot_uniform")
        _unsupported("Conv2D", "bias_initializer", bias_initializer, "zeros")
        self.activation = activations.serialize(activation)

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "padding": self.padding,
                "activation": self.activation}


class MaxPooling2D(Layer):
    _class_name = "MaxPooling2D"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "MaxPooling2D pool_size")
        self.strides = self.pool_size if strides is None else _pair(strides, "MaxPooling2D strides")
        _unsupported("MaxPooling2D", "padding", padding, "valid")
        if data_format not in (None, "channels_last"):
            raise ValueError(f"MaxPooling2D: loom supports only data_format='channels_last', got {data_format!r}")

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": "valid"}


MaxPool2D = MaxPooling2D


class Dropout(Layer):
    _class_name = "Dropout"

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        _unsupported("Dropout", "noise_shape", noise_shape, None)
        self.rate = float(rate)

    def get_config(self):
        return {"rate": self.rate}


class BatchNormalization(Layer):
    _class_name = "BatchNormalization"

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        _unsupported("BatchNormalization", "axis", axis, -1)
        _unsupported("BatchNormalization", "center", center, True)
        _unsupported("BatchNormalization", "scale", scale, True)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

    def get_config(self):
        return {"momentum": self.momentum, "epsilon": self.epsilon}


class ReLU(Layer):
    _class_name = "ReLU"

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        _unsupported("ReLU", "max_value", max_value, None)
        _unsupported("ReLU", "negative_slope", negative_slope, 0.0)
        _unsupported("ReLU", "threshold", threshold, 0.0)


class Softmax(Layer):
    _class_name = "Softmax"

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        _unsupported("Softmax", "axis", axis, -1)


__all__ = ["BatchNormalization", "Conv2D", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer",
           "MaxPool2D", "MaxPooling2D", "ReLU", "Softmax"]
