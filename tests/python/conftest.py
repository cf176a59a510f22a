"""Shared pieces of the Python package's tests: the data set (the tests that need it skip, saying so, without it)
and small slices of it, so that each training test runs a few dozen steps."""

import os

import numpy as np
import pytest

import loom  # noqa: F401  (imported first: a broken build fails here, once, with the import error)
from loom import keras


@pytest.fixture(scope="session")
def fashion():
    try:
        return keras.datasets.fashion_mnist.load_data()
    except FileNotFoundError as e:
        pytest.skip(f"no Fashion-MNIST data set: {e}")


@pytest.fixture(scope="session")
def small(fashion):
    """((x_train, y_train), (x_test, y_test)): 1,024 training and 512 test images, uint8."""
    (x, y), (xt, yt) = fashion
    return (x[:1024], y[:1024]), (xt[:512], yt[:512])


@pytest.fixture(autouse=True)
def seed_zero():
    loom.config.set_seed(0)
    yield
    loom.config.set_seed(0)


def tutorial_mlp(units=128, softmax=False, input_shape=(28, 28)):
    layers = [keras.layers.Flatten(input_shape=input_shape) if input_shape else keras.layers.Flatten(),
              keras.layers.Dense(units, activation="relu"),
              keras.layers.Dense(10, activation="softmax" if softmax else None)]
    model = keras.Sequential(layers)
    model.compile(optimizer="adam",
                  loss="sparse_categorical_crossentropy" if softmax else
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def tutorial_cnn(filters=64, dense=128):
    model = keras.Sequential([
        keras.layers.Conv2D(filters, (3, 3), activation="relu", input_shape=(28, 28, 1)),
        keras.layers.MaxPooling2D(2, 2),
        keras.layers.Conv2D(filters, (3, 3), activation="relu"),
        keras.layers.MaxPooling2D(2, 2),
        keras.layers.Flatten(),
        keras.layers.Dense(dense, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def weights_equal(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b))


def apps_dir():
    """Where the C++ programs are (the CMake test sets it); None when unknown."""
    return os.environ.get("LOOM_APPS_DIR") or None
