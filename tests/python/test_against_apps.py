"""The Python package trains exactly as loom's programs do (same seed, same data: the same weights, bit for bit),
and the tutorial examples run as written."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import apps_dir, tutorial_cnn, tutorial_mlp

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


def run_app(name, *args):
    directory = apps_dir()
    if directory is None:
        pytest.skip("LOOM_APPS_DIR is not set (the CMake test sets it to the programs' folder)")
    result = subprocess.run([os.path.join(directory, name), "--device", "cpu", *args], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("app, make, steps, reshape", [
    ("train_mlp", tutorial_mlp, 60, (28, 28)),
    ("train_cnn", tutorial_cnn, 12, (28, 28, 1)),
])
def test_one_epoch_gives_the_programs_weights(fashion, tmp_path, app, make, steps, reshape):
    (x, y), _ = fashion
    saved = tmp_path / "app.safetensors"
    run_app(app, "--epochs", "1", "--steps-per-epoch", str(steps), "--seed", "0", "--save", str(saved))
    from_app = make()
    from_app.load_weights(saved)
    model = make()  # the tutorial's code: scaled floats, the shape the first layer takes
    model.fit(x.reshape((-1,) + reshape) / 255.0, y, epochs=1, steps_per_epoch=steps, verbose=0)
    for (name, ours), (_, theirs) in zip(model.weights, from_app.weights):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


@pytest.mark.parametrize("script, expected", [
    ("mlp_basic_classification.py", "Test accuracy:"),
    ("mlp_callback_stop.py", ""),
    ("cnn_convolutions.py", "Total params: 243,786"),
    ("keras_from_logits.py", "val_accuracy"),
])
def test_examples_run_as_written(fashion, script, expected):
    env = dict(os.environ, LOOM_EXAMPLE_EPOCHS="1")
    result = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, env=env,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert expected in result.stdout
    assert "Epoch 1/1" in result.stdout
