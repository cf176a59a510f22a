"""ONNX files from the Python package: model.export_onnx writes, byte for byte, what the export_onnx program writes from
the same weights (which tests/onnx_runtime.sh runs in ONNX Runtime); Keras's model.export(format="onnx") gives the
model's own outputs; with ONNX Runtime installed, both run as model.predict runs, for every layer class."""

import os
import subprocess

import numpy as np
import pytest

from conftest import apps_dir, tutorial_cnn, tutorial_mlp
from loom import keras


def every_layer_model():
    """Each layer class once (Softmax over a map's channels too), the loss taking logits."""
    model = keras.Sequential([
        keras.layers.Conv2D(4, 3, padding="same", input_shape=(28, 28, 1)),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Softmax(),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(16),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(10),
    ])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def normalized_rows_model():
    """BatchNormalization over the columns of a 28x28 image (loom's last axis), whose ONNX form needs transposes."""
    model = keras.Sequential([
        keras.layers.BatchNormalization(input_shape=(28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("make, reshape", [(tutorial_mlp, (28, 28)), (tutorial_cnn, (28, 28, 1))])
def test_export_onnx_writes_what_the_program_writes(small, tmp_path, make, reshape):
    directory = apps_dir()
    if directory is None:
        pytest.skip("LOOM_APPS_DIR is not set (the CMake test sets it to the programs' folder)")
    (x, y), _ = small
    model = make()
    model.fit(x[:256].reshape((-1,) + reshape) / 255.0, y[:256], epochs=1, verbose=0)
    model.save_weights(tmp_path / "model.safetensors")
    model.export_onnx(tmp_path / "python.onnx")
    result = subprocess.run([os.path.join(directory, "export_onnx"), "--model", str(tmp_path / "model.safetensors"),
                             "--output", str(tmp_path / "program.onnx")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "python.onnx").read_bytes() == (tmp_path / "program.onnx").read_bytes()


def test_export_follows_keras_and_refuses_what_loom_cannot_write(tmp_path, capsys):
    model = tutorial_mlp()
    with pytest.raises(ValueError, match="not built yet"):
        keras.Sequential([keras.layers.Dense(10)]).export(tmp_path / "m.onnx", format="onnx")
    with pytest.raises(ValueError, match="loom writes format='onnx' only, got format='tf_saved_model'"):
        model.export(tmp_path / "m")
    with pytest.raises(ValueError, match="loom writes ONNX opset 17, got opset_version=18"):
        model.export(tmp_path / "m.onnx", format="onnx", opset_version=18)
    with pytest.raises(ValueError, match="input_signature=None"):
        model.export(tmp_path / "m.onnx", format="onnx", input_signature=[(None, 28, 28)])
    with pytest.raises(TypeError, match="unexpected keyword arguments: is_static"):
        model.export(tmp_path / "m.onnx", format="onnx", is_static=True)
    assert not any(tmp_path.iterdir())
    model.export(tmp_path / "m.onnx", format="onnx", opset_version=17)
    assert capsys.readouterr().out == f"Saved artifact at '{tmp_path / 'm.onnx'}'.\n"
    model.export(tmp_path / "quiet.onnx", format="onnx", verbose=False)
    assert capsys.readouterr().out == ""
    assert (tmp_path / "quiet.onnx").read_bytes() == (tmp_path / "m.onnx").read_bytes()


@pytest.mark.parametrize("make, reshape", [(every_layer_model, (28, 28, 1)), (normalized_rows_model, (28, 28)),
                                           (tutorial_cnn, (28, 28, 1)), (tutorial_mlp, (28, 28))])
def test_onnx_runtime_runs_the_exports_as_predict_runs_the_model(small, tmp_path, make, reshape):
    ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime is not installed (pip install onnxruntime)")
    (x, y), (xt, _) = small
    model = make()
    model.fit(x.reshape((-1,) + reshape) / 255.0, y, epochs=1, verbose=0)
    images = (xt.reshape((-1,) + reshape) / 255.0).astype(np.float32)
    outputs = model.predict(images, verbose=0)  # the layers' own outputs: logits where the loss takes them
    logits = keras.losses.from_logits_of(model.loss)
    probabilities = keras.activations.softmax(outputs) if logits else outputs

    model.export_onnx(tmp_path / "probabilities.onnx")
    model.export(tmp_path / "keras.onnx", format="onnx", verbose=False)
    for name, output, expected in [("probabilities.onnx", "probabilities", probabilities),
                                   ("keras.onnx", "logits" if logits else "probabilities", outputs)]:
        session = ort.InferenceSession(str(tmp_path / name), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == [output]
        got = session.run(None, {"images": images})[0]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5, err_msg=name)
        # The same class wherever loom's top two are told apart by more than the tolerance.
        top_two = np.sort(expected, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 2e-5
        np.testing.assert_array_equal(got.argmax(axis=1)[clear], expected.argmax(axis=1)[clear], err_msg=name)
