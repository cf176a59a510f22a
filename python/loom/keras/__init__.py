"""Keras's API over loom's engine: ``from loom import keras`` in place of ``from tensorflow import keras``."""

from . import activations, callbacks, datasets, layers, losses, models, optimizers, utils
from .layers import Input
from .models import Sequential

__all__ = ["Input", "Sequential", "activations", "callbacks", "datasets", "layers", "losses", "models", "optimizers", "utils"]
