"""loom: a deep-learning engine in C++ and CUDA that runs the Keras Fashion-MNIST tutorials' Python code.

Change the tutorial's imports and nothing else::

    import loom as tf              # for: import tensorflow as tf
    from loom import keras         # for: from tensorflow import keras

``tf.keras``, ``tf.nn.relu``, ``tf.nn.softmax``, ``tf.optimizers`` and ``tf.losses`` are here under the same names.
``loom.config`` chooses the device and the seed.
"""

__version__ = "0.1.0"

from . import config  # noqa: E402
from ._engine import EngineError  # noqa: E402
from . import keras  # noqa: E402
from . import nn  # noqa: E402
from .keras import losses, optimizers  # noqa: E402

__all__ = ["EngineError", "config", "keras", "losses", "nn", "optimizers"]
