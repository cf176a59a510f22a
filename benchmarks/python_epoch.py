#!/usr/bin/env python3
"""Times a training epoch of the tutorial models three ways on the same machine: the Python package's `fit`
(tutorial code, `from loom import keras`), loom's program (train_mlp / train_cnn) and Keras on TensorFlow's CPU.

Each run of each side is its own process (no two frameworks share a process or its threads), and the sides take turns
(loom-python, program, keras, then rotated), so a slower minute of a shared machine falls on all of them alike. An
epoch's time is the wall clock from on_epoch_begin to on_epoch_end for the Python sides (what a user's callback
sees) and the program's own per-epoch `seconds` (its --history file); each run reports the median of its epochs after
the first (which pays for warming up), and the report gives each side's median over the runs and the ratios.

  python3 benchmarks/python_epoch.py --model mlp --runs 5 --epochs 4 --program build/apps/train_mlp \\
      --json python_epoch.json

The Python package must be importable (PYTHONPATH=build/python, or installed with pip install .); --no-keras leaves
TensorFlow out. Exit status 2 for bad usage, 1 for a failed run.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_files  # noqa: E402
from reference_files import UsageError  # noqa: E402


def epoch_times_in_python(framework, model_name, epochs, device):
    """One run of the tutorial's fit in this process: the epochs' wall-clock seconds and the whole call's."""
    if framework == "loom":
        import loom
        from loom import keras
        loom.config.set_device(device)
    else:
        from keras_tutorial import import_keras
        _, keras = import_keras()
    from keras_tutorial import tutorial_model
    (x, y), _ = keras.datasets.fashion_mnist.load_data() if framework == "loom" else _keras_data()
    x = x / 255.0
    if model_name == "cnn":
        x = x.reshape(-1, 28, 28, 1)
    model = tutorial_model(keras, model_name)
    times = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, callbacks=[EpochClock()])
    return {"epoch_seconds": times, "fit_seconds": time.perf_counter() - start}


def _keras_data():
    import numpy as np
    files = reference_files.fashion_mnist(os.environ.get("FASHION_MNIST_DIR") or reference_files.DEFAULT_DATA)
    (dims, images), (_, labels) = files[0], files[1]
    train = np.frombuffer(images, np.uint8).reshape(dims), np.frombuffer(labels, np.uint8)
    return train, None


def program_epoch_times(program, epochs, device):
    with tempfile.TemporaryDirectory() as folder:
        history = os.path.join(folder, "history.csv")
        done = subprocess.run([program, "--device", device, "--epochs", str(epochs), "--history", history],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stderr.strip().splitlines()[-1:]}")
        with open(history) as f:
            return {"epoch_seconds": [float(row["seconds"]) for row in csv.DictReader(f)]}


def run_side(side, args):
    if side == "program":
        return program_epoch_times(args.program, args.epochs, args.device)
    done = subprocess.run([sys.executable, __file__, "--side", side, "--model", args.model, "--epochs",
                           str(args.epochs), "--device", args.device], capture_output=True, text=True)
    if done.returncode == reference_files.NOT_INSTALLED:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"the {side} run failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4, help="per run; the first is left out of its median")
    parser.add_argument("--program", help="train_mlp or train_cnn (default: build/apps/train_<model>)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--no-keras", action="store_true", help="leave Keras on TensorFlow out")
    parser.add_argument("--json", help="write the runs and the summary here")
    parser.add_argument("--side", choices=("loom", "keras"), help=argparse.SUPPRESS)  # one run, in this process
    args = parser.parse_args()

    def body():
        if args.runs < 1 or args.epochs < 2:
            raise UsageError("--runs must be at least 1 and --epochs at least 2 (the first epoch is left out)")
        if args.side:
            try:
                result = epoch_times_in_python(args.side, args.model, args.epochs, args.device)
            except ImportError as e:
                print(f"python_epoch: {e}", file=sys.stderr)
                sys.exit(reference_files.NOT_INSTALLED)
            print(json.dumps(result))
            return
        args.program = args.program or os.path.join("build", "apps", f"train_{args.model}")
        if not os.access(args.program, os.X_OK):
            raise UsageError(f"--program '{args.program}' is not an executable (build the programs first)")
        sides = ["loom", "program"] + ([] if args.no_keras else ["keras"])
        runs = {side: [] for side in sides}
        for r in range(args.runs):
            for side in sides[r % len(sides):] + sides[:r % len(sides)]:
                result = run_side(side, args)
                if result is None:
                    print(f"python_epoch: {side} is not installed; left out", file=sys.stderr)
                    sides.remove(side)
                    del runs[side]
                    continue
                result["median_epoch_seconds"] = statistics.median(result["epoch_seconds"][1:])
                runs[side].append(result)
                print(f"run {r + 1} {side}: epoch {result['median_epoch_seconds']:.3f} s", file=sys.stderr)
        summary = {side: statistics.median(r["median_epoch_seconds"] for r in runs[side]) for side in runs}
        # Each run's ratio to the program's run of the same turn: the machine's speed changes from minute to minute,
        # and a turn's runs share their minute.
        paired = {side: statistics.median(a["median_epoch_seconds"] / b["median_epoch_seconds"]
                                          for a, b in zip(runs[side], runs["program"])) for side in runs}
        print(f"{args.model} on {args.device} ({reference_files.cpu_name()}), median epoch over {args.runs} runs:")
        for side, seconds in summary.items():
            print(f"  {side:8} {seconds:.3f} s  (median of each turn's ratio to the program: {paired[side]:.3f})")
        if args.json:
            reference_files.write_json(args.json, {"model": args.model, "device": args.device,
                                                   "cpu": reference_files.cpu_name(), "runs": runs,
                                                   "median_epoch_seconds": summary,
                                                   "median_ratio_to_program": paired})

    sys.exit(reference_files.exit_code("python_epoch", body))


if __name__ == "__main__":
    main()
