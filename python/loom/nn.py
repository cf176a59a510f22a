"""TensorFlow's ``tf.nn`` activations the tutorials pass to layers (``activation=tf.nn.relu``)."""

from .keras.activations import relu, softmax

__all__ = ["relu", "softmax"]
