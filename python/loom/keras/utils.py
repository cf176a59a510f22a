"""Keras's utilities that apply to loom."""

from .. import config


def set_random_seed(seed):
    """As Keras's: the seed of the models built from now on (initial weights and fit's shuffles)."""
    config.set_seed(seed)
