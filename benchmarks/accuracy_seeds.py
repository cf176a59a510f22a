#!/usr/bin/env python3
"""Test accuracy over several runs, loom against Keras: each side trains the tutorial model (MLP or CNN, Adam,
batch 32, 10 epochs) once per seed, evaluating the test set after every epoch, and `compare` says whether loom's and
Keras's mean final test accuracies differ by more than chance (Welch's two-sample t-test, and the exact permutation
test of the difference of means).

    python3 benchmarks/accuracy_seeds.py run --side keras --model cnn --seeds 0-4 --out runs/
    python3 benchmarks/accuracy_seeds.py run --side loom --model cnn --seeds 0-4 --out runs/ --build build
    python3 benchmarks/accuracy_seeds.py compare runs/ --model cnn

The Keras side runs the tutorial's own code (softmax last layer, `optimizer="adam"`,
`loss="sparse_categorical_crossentropy"`, `fit(..., validation_data=(test_images, test_labels))`), which sets no
seed: its runs are numbered, not seeded. `--side keras-seeded` calls `keras.utils.set_random_seed(seed)` first, which
in Keras 3.15 / TensorFlow 2.21 also makes `fit` present the training set in one and the same order every epoch
(docs/ACCURACY.md). The loom side runs `train_cnn` / `train_mlp --device cpu --seed N --validation-data test`. Each
run is written to OUT/<side>-<model>-seed<N>.json as it ends (a run already there is not repeated), so an interrupted
series goes on where it stopped.
"""
import argparse
import importlib.util
import itertools
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from keras_tutorial import import_keras, tutorial_model
from reference_files import DEFAULT_DATA, NOT_INSTALLED, UsageError, exit_code, fashion_mnist, write_json

SIDES = ("keras", "keras-seeded", "loom")


def parse_seeds(text):
    """'0-4' or '0,3,7' (or a mix) as a sorted list of distinct seeds."""
    seeds = set()
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not match or (match.group(2) and int(match.group(2)) < int(match.group(1))):
            raise UsageError(f"--seeds '{text}': expected seeds such as 0-4 or 0,3,7")
        last = int(match.group(2) or match.group(1))
        seeds.update(range(int(match.group(1)), last + 1))
    return sorted(seeds)


def run_path(out, side, model, seed):
    return os.path.join(out, f"{side}-{model}-seed{seed}.json")


def keras_run(args, seed):
    """One seed of the tutorial's Keras code; the history of every epoch, the test set as validation data."""
    import numpy as np
    tf, keras = import_keras()

    images, labels, test_images, test_labels = (np.frombuffer(body, dtype=np.uint8).reshape(dims)
                                                for dims, body in fashion_mnist(args.data))
    x, x_test = images.astype(np.float32) / 255.0, test_images.astype(np.float32) / 255.0
    if args.model == "cnn":
        x, x_test = x.reshape(-1, 28, 28, 1), x_test.reshape(-1, 28, 28, 1)
    y, y_test = labels.astype(np.int64), test_labels.astype(np.int64)

    if args.side == "keras-seeded":
        keras.utils.set_random_seed(seed)
    model = tutorial_model(keras, args.model)
    start = time.perf_counter()
    history = model.fit(x, y, batch_size=32, epochs=args.epochs, validation_data=(x_test, y_test), verbose=0)
    seconds = time.perf_counter() - start
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    epochs = [{k: float(history.history[k][i]) for k in keys} for i in range(len(history.history["loss"]))]
    return {"framework": f"Keras {keras.__version__} / TensorFlow {tf.__version__}", "epochs": epochs,
            "seconds": seconds}


def loom_run(args, seed):
    """One seed of train_cnn / train_mlp on the CPU, the test set evaluated after every epoch."""
    program = os.path.join(args.build, "apps", "train_" + args.model)
    if not os.access(program, os.X_OK):
        raise UsageError(f"{program}: not built; build loom first or pass --build DIR")
    with tempfile.TemporaryDirectory() as scratch:
        history_path = os.path.join(scratch, "history.json")
        command = [program, "--device", "cpu", "--data", args.data, "--seed", str(seed), "--epochs",
                   str(args.epochs), "--validation-data", "test", "--history", history_path]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.strip()}")
        with open(history_path) as f:
            history = json.load(f)
    keys = ("loss", "accuracy", "val_loss", "val_accuracy")
    epochs = [{k: float(history[k][i]) for k in keys} for i in range(len(history["loss"]))]
    printed = re.search(r"Test accuracy: ([0-9.]+)", done.stdout)
    if not printed or abs(float(printed.group(1)) - epochs[-1]["val_accuracy"]) > 1e-4:
        raise RuntimeError(f"seed {seed}: the printed test accuracy does not match the last epoch's val_accuracy")
    return {"framework": "loom (CPU)", "epochs": epochs, "seconds": seconds}


def run(args):
    os.makedirs(args.out, exist_ok=True)
    for seed in parse_seeds(args.seeds):
        path = run_path(args.out, args.side, args.model, seed)
        if os.path.exists(path):
            print(f"{path}: already there", flush=True)
            continue
        result = (loom_run if args.side == "loom" else keras_run)(args, seed)
        result.update({"side": args.side, "model": args.model, "seed": seed,
                       "test_loss": result["epochs"][-1]["val_loss"],
                       "test_accuracy": result["epochs"][-1]["val_accuracy"]})
        write_json(path, result)
        print(f"{args.side} {args.model} seed {seed}: test accuracy {result['test_accuracy']:.4f}, loss "
              f"{result['test_loss']:.4f} ({result['seconds']:.0f} s)", flush=True)


def regularized_incomplete_beta(x, a, b):
    """I_x(a, b), by the continued fraction of the incomplete beta function (evaluated with Lentz's method), on the
    side of x where it converges fast."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1 - regularized_incomplete_beta(1 - x, b, a)
    tiny = 1e-300
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 1000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1) < 1e-16:
            break
    return front * fraction / a


def t_distribution_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom (df may be fractional, as Welch's is):
    I_{df / (df + t^2)}(df / 2, 1 / 2)."""
    return regularized_incomplete_beta(df / (df + t * t), df / 2, 0.5)


def welch_test(a, b):
    """Welch's t statistic, its degrees of freedom and two-sided p for the means of samples a and b."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return math.inf if statistics.mean(a) != statistics.mean(b) else 0.0, math.nan, 0.0
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t, df, t_distribution_two_sided_p(t, df)


def permutation_p(a, b):
    """Exact two-sided permutation test: the share of all relabellings of a + b whose difference of means is at
    least as far from 0 as the observed one."""
    pooled, observed = a + b, abs(statistics.mean(a) - statistics.mean(b))
    hits = total = 0
    for chosen in itertools.combinations(range(len(pooled)), len(a)):
        inside = set(chosen)
        first = [pooled[i] for i in chosen]
        second = [pooled[i] for i in range(len(pooled)) if i not in inside]
        hits += abs(statistics.mean(first) - statistics.mean(second)) >= observed - 1e-12
        total += 1
    return hits / total


def self_test():
    """The statistics against values SciPy 1.17 gives (scipy.stats.t.sf, scipy.stats.ttest_ind with
    equal_var=False), and the permutation test on a case counted by hand."""
    checks = [("t_distribution_two_sided_p(2, 5)", t_distribution_two_sided_p(2.0, 5), 0.10193947882985835),
              ("t_distribution_two_sided_p(0.5, 3.3)", t_distribution_two_sided_p(0.5, 3.3), 0.6485350763995584),
              ("t_distribution_two_sided_p(4, 8.7)", t_distribution_two_sided_p(4.0, 8.7), 0.0033309637115536556),
              ("t_distribution_two_sided_p(30, 2.5)", t_distribution_two_sided_p(30.0, 2.5), 0.00029106470915739535),
              ("t_distribution_two_sided_p(8000, 4)", t_distribution_two_sided_p(8000.0, 4), 1.4648435974121216e-15)]
    t, df, p = welch_test([0.9104, 0.9079, 0.9095, 0.9120], [0.9045, 0.9078, 0.9121, 0.9103, 0.9107])
    checks += [("Welch's t", t, 0.5473358204879549), ("Welch's df", df, 6.494984361503202),
               ("Welch's p", p, 0.6024363881800501),
               # Of the 20 ways to split 1..6 in two threes, only the two extremes differ by as much as 1,2,3 | 4,5,6.
               ("permutation p of 1,2,3 | 4,5,6", permutation_p([1, 2, 3], [4, 5, 6]), 0.1)]
    wrong = [f"{name} = {got!r}, expected {want!r}" for name, got, want in checks
             if not abs(got - want) <= 1e-9 * max(1.0, abs(want)) or (want < 1e-9 and not abs(got - want) <= 1e-6 * want)]
    if wrong:
        raise RuntimeError("self-test: " + "; ".join(wrong))
    print(f"self-test: {len(checks)} statistics as SciPy computes them")


def load_runs(directory, side, model):
    runs = []
    for name in sorted(os.listdir(directory)):
        if re.fullmatch(rf"{side}-{model}-seed\d+\.json", name):
            with open(os.path.join(directory, name)) as f:
                runs.append(json.load(f))
    return sorted(runs, key=lambda r: r["seed"])


def compare(args):
    sides = {side: load_runs(args.directory, side, args.model) for side in SIDES}
    for side in ("keras", "loom"):
        if len(sides[side]) < 2:
            raise UsageError(f"{args.directory}: {len(sides[side])} {side} run(s) of the {args.model}; compare needs 2 "
                             "or more of Keras's and of loom's")
    sides = {side: runs for side, runs in sides.items() if len(runs) >= 2}
    print("| side | seed | train loss / accuracy, last epoch | test loss | test accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for side, runs in sides.items():
        for r in runs:
            last = r["epochs"][-1]
            print(f"| {side}: {r['framework']} | {r['seed']} | {last['loss']:.4f} / {last['accuracy']:.4f} | "
                  f"{r['test_loss']:.4f} | {r['test_accuracy']:.4f} |")
    print()
    print("| side | runs | test accuracy mean ± sd | test loss mean ± sd | per epoch: mean test accuracy |")
    print("| --- | --- | --- | --- | --- |")
    for side, runs in sides.items():
        accuracies = [r["test_accuracy"] for r in runs]
        losses = [r["test_loss"] for r in runs]
        epochs = min(len(r["epochs"]) for r in runs)
        curve = " ".join(f"{statistics.mean(r['epochs'][i]['val_accuracy'] for r in runs):.4f}" for i in range(epochs))
        print(f"| {side} | {len(runs)} | {statistics.mean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f} | "
              f"{statistics.mean(losses):.4f} ± {statistics.stdev(losses):.4f} | {curve} |")
    print()
    loom = [r["test_accuracy"] for r in sides["loom"]]
    for other in (side for side in sides if side != "loom"):
        theirs = [r["test_accuracy"] for r in sides[other]]
        t, df, p = welch_test(loom, theirs)
        print(f"test accuracy, loom − {other}: {statistics.mean(loom) - statistics.mean(theirs):+.4f}; "
              f"Welch's t = {t:.2f}, df = {df:.1f}, two-sided p = {p:.4f}; "
              f"exact permutation test: two-sided p = {permutation_p(loom, theirs):.4f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="train one side on each seed")
    runner.add_argument("--side", choices=SIDES, required=True)
    runner.add_argument("--model", choices=["mlp", "cnn"], required=True)
    runner.add_argument("--seeds", default="0-4", help="e.g. 0-4 or 0,3,7")
    runner.add_argument("--epochs", type=int, default=10)
    runner.add_argument("--out", required=True, help="directory of the runs' JSON files")
    runner.add_argument("--build", default="build", help="loom's build directory (the loom side)")
    runner.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DATA)
    comparer = commands.add_parser("compare", help="tables and the two-sample tests of a directory of runs")
    comparer.add_argument("directory")
    comparer.add_argument("--model", choices=["mlp", "cnn"], required=True)
    commands.add_parser("self-test", help="check the statistics against values SciPy gives")
    args = parser.parse_args()
    if args.command == "run" and args.epochs < 1:
        print("accuracy_seeds.py: --epochs must be at least 1", file=sys.stderr)
        return 2
    if args.command == "run" and args.side != "loom" and importlib.util.find_spec("tensorflow") is None:
        print("accuracy_seeds.py: TensorFlow is not installed; pip install tensorflow", file=sys.stderr)
        return NOT_INSTALLED
    actions = {"run": lambda: run(args), "compare": lambda: compare(args), "self-test": self_test}
    return exit_code("accuracy_seeds.py", actions[args.command])


if __name__ == "__main__":
    sys.exit(main())
