"""Activations by name or as functions, as Keras takes them (``'relu'``, ``keras.activations.relu``, ``tf.nn.relu``).

The functions also compute on NumPy arrays, but a layer given one runs loom's own kernel for it.
"""

import numpy as np


def relu(x):
    return np.maximum(np.asarray(x), 0)


def softmax(x, axis=-1):
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def linear(x):
    return np.asarray(x)


_BY_FUNCTION = {relu: "relu", softmax: "softmax", linear: "linear"}


def serialize(activation):
    """The engine's name of an activation given as a string, one of these functions, or None (linear)."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        if activation in ("relu", "softmax", "linear"):
            return activation
        raise ValueError(f"unknown activation {activation!r}: loom has 'relu', 'softmax' and 'linear'")
    name = _BY_FUNCTION.get(activation)
    if name is None:
        raise ValueError(f"activation {activation!r} is not one loom has: give 'relu', 'softmax' or 'linear', "
                         "or keras.activations.relu / softmax (tf.nn.relu / softmax)")
    return name


def get(identifier):
    """Keras's activations.get: the function for a name."""
    name = serialize(identifier)
    return {"relu": relu, "softmax": softmax, "linear": linear}[name]
