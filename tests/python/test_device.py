"""The GPU path from Python: a model built on the CUDA device trains and predicts as the CPU's does. Skipped, saying
why, where no GPU is usable (the CUDA simulator flavour runs it on the simulated device)."""

import numpy as np
import pytest

import loom
from conftest import tutorial_mlp


@pytest.fixture
def cuda_device():
    device, note = loom._engine.resolve_device("auto")
    if device != "cuda":
        pytest.skip(f"no usable GPU: {note}")
    yield
    loom.config.set_device("cpu")


def test_a_model_on_the_gpu_trains_as_on_the_cpu(small, cuda_device):
    (x, y), (xt, _) = small
    loom.config.set_device("cpu")
    on_cpu = tutorial_mlp()
    on_cpu.fit(x, y, epochs=1, steps_per_epoch=3, verbose=0)
    loom.config.set_device("cuda")
    on_gpu = tutorial_mlp()
    assert on_gpu._engine.device() == "cuda"
    on_gpu.fit(x, y, epochs=1, steps_per_epoch=3, verbose=0)
    for a, b in zip(on_cpu.get_weights(), on_gpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(on_gpu.predict(xt[:64]), on_cpu.predict(xt[:64]), rtol=1e-3, atol=1e-4)
