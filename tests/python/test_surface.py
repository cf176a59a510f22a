"""The Keras names the tutorials use exist, take Keras's arguments, and refuse what loom cannot do in one clear
ValueError (or Keras's TypeError for an unknown keyword), before anything is built."""

import numpy as np
import pytest

import loom
import loom as tf
from loom import keras


def test_the_tutorials_names_are_there():
    assert isinstance(tf.__version__, str)
    assert tf.keras is keras
    for name in ("Flatten", "Dense", "Conv2D", "MaxPool2D", "MaxPooling2D", "Dropout", "BatchNormalization", "ReLU",
                 "Softmax", "Input", "InputLayer"):
        assert hasattr(keras.layers, name), name
    assert keras.models.Sequential is keras.Sequential
    assert tf.optimizers.Adam is keras.optimizers.Adam
    assert tf.losses.sparse_categorical_crossentropy is keras.losses.sparse_categorical_crossentropy
    assert tf.nn.relu is keras.activations.relu and tf.nn.softmax is keras.activations.softmax
    assert issubclass(loom.EngineError, RuntimeError)


def test_activations_compute_and_name_themselves():
    x = np.array([[-1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(tf.nn.relu(x), [[0.0, 0.0, 2.0]])
    np.testing.assert_allclose(tf.nn.softmax(x).sum(), 1.0, rtol=1e-6)
    assert keras.layers.Dense(4, activation=tf.nn.relu).get_config()["activation"] == "relu"
    assert keras.layers.Dense(4, activation=keras.activations.softmax).get_config()["activation"] == "softmax"
    assert keras.layers.Dense(4).get_config()["activation"] == "linear"
    with pytest.raises(ValueError, match="tanh"):
        keras.layers.Dense(4, activation="tanh")
    with pytest.raises(ValueError, match="not one loom has"):
        keras.layers.Dense(4, activation=np.tanh)


@pytest.mark.parametrize("make, message", [
    (lambda: keras.layers.Dense(0), "units must be a positive integer"),
    (lambda: keras.layers.Dense(8, use_bias=False), "use_bias"),
    (lambda: keras.layers.Dense(8, kernel_initializer="he_normal"), "kernel_initializer"),
    (lambda: keras.layers.Conv2D(8, 3, strides=2), "strides"),
    (lambda: keras.layers.Conv2D(8, (3, 3, 3)), "kernel_size"),
    (lambda: keras.layers.Conv2D(8, 3, padding="causal"), "padding"),
    (lambda: keras.layers.MaxPooling2D(2, padding="same"), "padding"),
    (lambda: keras.layers.Dropout(1.0), r"rate must be a number in \[0, 1\)"),
    (lambda: keras.layers.Flatten(input_shape=(0, 28)), "input_shape"),
    (lambda: keras.layers.Dense(8, trainable=False), "trainable"),
    (lambda: keras.optimizers.Adam(learning_rate=-1), "learning_rate must be a positive number"),
    (lambda: keras.optimizers.Adam(beta_1=1.0), r"beta_1 must be a number in \[0, 1\)"),
    (lambda: keras.optimizers.SGD(momentum=0.9), "momentum"),
    (lambda: keras.callbacks.EarlyStopping(monitor="val_auc"), "monitor"),
    (lambda: keras.callbacks.EarlyStopping(mode="up"), "mode"),
    (lambda: keras.callbacks.CSVLogger("h.csv", separator=";;"), "separator"),
    (lambda: keras.callbacks.LearningRateScheduler(0.1), "must be a function"),
    (lambda: loom.config.set_device("tpu"), "'auto', 'cpu' or 'cuda'"),
    (lambda: loom.config.set_seed(-1), "seed"),
])
def test_unsupported_settings_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_unknown_keywords_are_type_errors_as_in_keras():
    with pytest.raises(TypeError, match="kernel_sise"):
        keras.layers.Conv2D(8, 3, kernel_sise=3)
    with pytest.raises(TypeError, match="learning_rat"):
        keras.optimizers.Adam(learning_rat=0.1)


def test_engine_checks_reach_python_as_value_errors():
    # The layers are checked again by the engine when the model is built: an even kernel with 'same' padding.
    model = keras.Sequential([keras.layers.Conv2D(4, 2, padding="same", input_shape=(8, 8, 1))])
    with pytest.raises(ValueError, match="layer 1 \\(Conv2D\\)"):
        model.build()
    # A stack that does not fit its input: pooling a 1x1 image.
    model = keras.Sequential([keras.layers.MaxPooling2D(2, input_shape=(1, 1, 1))])
    with pytest.raises(ValueError):
        model.summary()


def test_compile_refuses_what_loom_lacks():
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="rmsprop"):
        model.compile(loss="sparse_categorical_crossentropy")  # Keras's default optimizer
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="auc"):
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["auc"])
    with pytest.raises(ValueError, match="give a loss"):
        model.compile(optimizer="adam")


def test_models_say_what_is_missing():
    model = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="not built yet"):
        model.summary()
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(TypeError, match="keras.layers"):
        model.add("dense")
    with pytest.raises(ValueError, match="first layer"):
        model.add(keras.layers.Dense(3, input_shape=(4,)))
    nested = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match="first entry"):
        keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), nested])


def test_summary_is_keras_table_through_sys_stdout(capsys):
    model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(10)])
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 101,770" in text and "dense_1 (Dense)" in text
    lines = []
    model.summary(print_fn=lines.append)
    assert any("Trainable params: 101,770" in line for line in lines)
    assert model.count_params() == 101770
    assert model.input_shape == (None, 28, 28) and model.output_shape == (None, 10)


def test_cnn_summary_counts_the_tutorials_parameters():
    from conftest import tutorial_cnn
    assert tutorial_cnn().count_params() == 243786


def test_the_device_is_chosen_by_variable_or_call(monkeypatch):
    monkeypatch.setattr(loom.config, "_requested", None)
    monkeypatch.setattr(loom.config, "_resolved", None)
    monkeypatch.setenv("LOOM_DEVICE", "quantum")
    with pytest.raises(ValueError, match=r"\$LOOM_DEVICE must be 'auto', 'cpu' or 'cuda', got 'quantum'"):
        loom.config.get_device()
    monkeypatch.setenv("LOOM_DEVICE", "cpu")
    assert loom.config.get_device() == "cpu"
    loom.config.set_device("cpu")
    assert loom.config.get_device() == "cpu"


def test_missing_data_set_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        keras.datasets.fashion_mnist.load_data()
