"""Keras's data sets that loom reads from local files: fashion_mnist."""

from . import fashion_mnist

__all__ = ["fashion_mnist"]
