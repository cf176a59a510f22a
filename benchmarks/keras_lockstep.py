#!/usr/bin/env python3
"""loom and Keras in lockstep: both train the tutorial model from Keras's initial weights on the same batches (the
training set in order, batch 32), and the weights are compared after chosen steps. A second Keras run with oneDNN
off (TF_ENABLE_ONEDNN_OPTS=0), which rounds some sums otherwise, shows how far Keras parts from itself: loom doing
what Keras does parts from Keras about as soon and as far as that.

    python3 benchmarks/keras_lockstep.py --model mlp --steps 1,10,100,300,1000,1875 --build build

For each step it prints, per weight tensor, |loom - Keras| / |Keras - initial| (the difference as a share of how far
training has moved the tensor), the same for the second Keras run, and the loss each reports (Keras's running mean
over the steps so far, as loom's). The loom side runs `train_mlp` / `train_cnn --load ... --no-shuffle
--steps-per-epoch K --save ...` once per step count K, so its files are the shipped programs' own results.
"""
import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile

from keras_tutorial import import_keras, tutorial_model
from reference_files import DEFAULT_DATA, NOT_INSTALLED, UsageError, exit_code, fashion_mnist

BATCH = 32


def parse_steps(text):
    try:
        steps = sorted({int(s) for s in text.split(",")})
    except ValueError:
        raise UsageError(f"--steps '{text}': expected step counts such as 1,10,100")
    if not steps or steps[0] < 1:
        raise UsageError(f"--steps '{text}': step counts must be at least 1")
    return steps


def keras_side(args):
    """Runs in a child process (so that TF_ENABLE_ONEDNN_OPTS takes effect): Keras's initial weights to
    <out>/keras_0.safetensors, then its weights after each step count to <out>/keras_<K>.safetensors, and the
    losses as JSON on stdout."""
    import numpy as np
    from safetensors.numpy import save_file
    _, keras = import_keras()

    steps = parse_steps(args.steps)
    images, labels, _, _ = fashion_mnist(args.data)
    count = steps[-1] * BATCH
    if count > labels[0][0]:
        raise UsageError(f"--steps: {steps[-1]} steps of {BATCH} need {count} images, the training set has "
                         f"{labels[0][0]}")
    x = np.frombuffer(images[1], dtype=np.uint8).reshape(images[0])[:count].astype(np.float32) / 255.0
    y = np.frombuffer(labels[1], dtype=np.uint8)[:count].astype(np.int64)
    if args.model == "cnn":
        x = x.reshape(-1, 28, 28, 1)

    keras.utils.set_random_seed(args.seed)  # the initial weights; the order is fixed anyway (shuffle=False)
    model = tutorial_model(keras, args.model)

    def save(path):
        save_file({f"{layer.name}.{v.name}": np.ascontiguousarray(v.numpy()) for layer in model.layers
                   for v in layer.weights}, path)

    save(os.path.join(args.out, f"{args.prefix}_0.safetensors"))
    losses = {}

    class Saver(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 in steps:
                save(os.path.join(args.out, f"{args.prefix}_{batch + 1}.safetensors"))
                losses[batch + 1] = float(logs["loss"])

    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[Saver()])
    print(json.dumps(losses))


def run_keras(args, prefix, onednn):
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1" if onednn else "0", TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, os.path.abspath(__file__), "--keras-side", "--prefix", prefix, "--out", args.out,
               "--model", args.model, "--steps", args.steps, "--seed", str(args.seed), "--data", args.data]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode == NOT_INSTALLED:
        raise ImportError(done.stderr.strip())
    if done.returncode != 0:
        raise RuntimeError(f"the Keras side failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def loom_weights_file(args, program, keras_file, loom_file):
    """Keras's initial weights as a loom weights file: its tensors under the metadata (the architecture) of a file
    the same loom program saves, written by a one-step run."""
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file
    reference = os.path.join(args.out, "loom_architecture.safetensors")
    command = [program, "--device", args.device, "--data", args.data, "--epochs", "1", "--steps-per-epoch", "1",
               "--save", reference]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
    with safe_open(reference, "np") as f:
        metadata = {k: v for k, v in f.metadata().items() if k in ("format", "format_version", "content",
                                                                    "architecture")}
        names = set(f.keys())
    tensors = load_file(keras_file)
    if set(tensors) != names:
        raise RuntimeError(f"Keras's weights {sorted(tensors)} are not loom's {sorted(names)}")
    save_file(tensors, loom_file, metadata=metadata)


def run_loom(args, steps):
    program = os.path.join(args.build, "apps", "train_" + args.model)
    if not os.access(program, os.X_OK):
        raise UsageError(f"{program}: not built; build loom first or pass --build DIR")
    initial = os.path.join(args.out, "keras_initial_for_loom.safetensors")
    loom_weights_file(args, program, os.path.join(args.out, "keras_0.safetensors"), initial)
    losses = {}
    for k in steps:
        command = [program, "--device", args.device, "--data", args.data, "--load", initial, "--no-shuffle",
                   "--epochs", "1", "--steps-per-epoch", str(k), "--save",
                   os.path.join(args.out, f"loom_{k}.safetensors")]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        found = re.findall(r"- loss: ([0-9.]+)", done.stdout)
        losses[k] = float(found[0]) if found else float("nan")
    return losses


def relative_differences(out, prefix, other, step):
    """Per tensor: |other - prefix| / |prefix - initial| after `step` steps."""
    import numpy as np
    from safetensors.numpy import load_file
    initial = load_file(os.path.join(out, "keras_0.safetensors"))
    a = load_file(os.path.join(out, f"{prefix}_{step}.safetensors"))
    b = load_file(os.path.join(out, f"{other}_{step}.safetensors"))
    result = {}
    for name in sorted(a):
        moved = np.linalg.norm(a[name].astype(np.float64) - initial[name])
        result[name] = float(np.linalg.norm(b[name].astype(np.float64) - a[name]) / moved) if moved else 0.0
    return result


def lockstep(args):
    steps = parse_steps(args.steps)
    with tempfile.TemporaryDirectory() as scratch:
        args.out = args.out or scratch
        os.makedirs(args.out, exist_ok=True)
        keras_losses = run_keras(args, "keras", onednn=True)
        run_keras(args, "keras_no_onednn", onednn=False)
        loom_losses = run_loom(args, steps)
        print(f"{args.model}, seed {args.seed}: relative difference of each weight tensor from Keras's "
              f"(|other - Keras| / |Keras - initial|), loom on {args.device}, and Keras with oneDNN off")
        names = None
        for k in steps:
            loom = relative_differences(args.out, "keras", "loom", k)
            control = relative_differences(args.out, "keras", "keras_no_onednn", k)
            if names is None:
                names = list(loom)
                print("| step | loss: Keras / loom | " + " | ".join(names) + " |")
                print("| --- | --- | " + " | ".join("---" for _ in names) + " |")
            cells = " | ".join(f"{loom[n]:.1e} ({control[n]:.1e})" for n in names)
            print(f"| {k} | {keras_losses[k]:.4f} / {loom_losses[k]:.4f} | {cells} |")
        print("each cell: loom (Keras with oneDNN off)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--steps", default="1,10,100,300,1000,1875", help="step counts to compare after")
    parser.add_argument("--seed", type=int, default=0, help="Keras's seed for the initial weights")
    parser.add_argument("--build", default="build", help="loom's build directory")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where loom trains")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DATA)
    parser.add_argument("--out", help="keep the weight files here (default: a temporary directory)")
    parser.add_argument("--keras-side", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", default="keras", help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported
    missing = [name for name in ("tensorflow", "keras", "safetensors") if importlib.util.find_spec(name) is None]
    if missing:
        print(f"keras_lockstep.py: {', '.join(missing)} not installed; pip install tensorflow safetensors",
              file=sys.stderr)
        return NOT_INSTALLED
    return exit_code("keras_lockstep.py", lambda: keras_side(args) if args.keras_side else lockstep(args))


if __name__ == "__main__":
    sys.exit(main())
