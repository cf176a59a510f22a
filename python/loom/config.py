"""Where loom computes, and the seed its models start from.

The device is chosen once per process, the first time a model is built: the GPU when one is usable, else the CPU, said
in one line on standard error as loom's programs say it. ``set_device`` (or the environment variable ``LOOM_DEVICE``:
``auto``, ``cpu`` or ``cuda``) chooses it; a model keeps the device it was built on.
"""

import os
import sys

from . import _engine

_DEVICE_NAMES = {"auto": "auto", "cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
_requested = None  # set_device's choice; None: $LOOM_DEVICE, else "auto"
_resolved = None  # the device models are built on, once chosen
_seed = 0


def _device_request(value, where):
    if not isinstance(value, str) or value.lower() not in _DEVICE_NAMES:
        raise ValueError(f"{where} must be 'auto', 'cpu' or 'cuda', got {value!r}")
    return _DEVICE_NAMES[value.lower()]


def set_device(device):
    """Builds the models made from now on on ``device``: 'auto' (the GPU when usable), 'cpu' or 'cuda' ('gpu')."""
    global _requested, _resolved
    _requested = _device_request(device, "loom.config.set_device's device")
    _resolved = None


def get_device():
    """The device new models are built on ('cpu' or 'cuda'), choosing it (and saying which) on the first call."""
    global _resolved
    if _resolved is None:
        request = _requested
        if request is None:
            request = _device_request(os.environ.get("LOOM_DEVICE", "auto") or "auto", "$LOOM_DEVICE")
        device, note = _engine.resolve_device(request)
        if device == "cpu":
            threads, source = _engine.use_default_cpu_threads()
            where = "every core" if source == "cores" else source
            said = f"cpu, {threads} thread{'s' if threads != 1 else ''} ({where})"
        else:
            said = f"cuda: {_engine.gpu_name()}"
        print(f"loom: training on {said}" + (f"; {note}" if note else ""), file=sys.stderr)
        _resolved = device
    return _resolved


def set_seed(seed):
    """The seed of the models built from now on: their initial weights and the order fit shuffles the data in."""
    global _seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"the seed must be an integer from 0 to 2**64 - 1, got {seed!r}")
    _seed = seed


def get_seed():
    return _seed
