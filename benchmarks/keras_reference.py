#!/usr/bin/env python3
"""Keras/TensorFlow reference for bench_epoch on the CPU: the Fashion-MNIST tutorials' own code path (Sequential,
compile, fit on NumPy arrays scaled to [0, 1], batch 32, Adam 1e-3, sparse categorical cross-entropy), timed per
epoch by a callback after one warm-up epoch that traces the training function.

    python3 benchmarks/keras_reference.py --model cnn --epochs 5 --max-steps 200

Prints one JSON object (epoch times, their median, microseconds per step, the final training loss and accuracy).
It seeds Keras (keras.utils.set_random_seed), which in Keras 3.15 / TensorFlow 2.21 also makes every epoch take the
training set in the same order: the timings do not depend on it, the final loss does (docs/ACCURACY.md).
Exits with 3 when TensorFlow or Keras is not installed, so that a caller can tell "not installed" from a failure.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

from reference_files import NOT_INSTALLED

try:
    import numpy as np
except ImportError:  # TensorFlow needs NumPy, so without it TensorFlow is missing too
    print("keras_reference.py: NumPy is not installed, so neither is TensorFlow; pip install tensorflow",
          file=sys.stderr)
    sys.exit(NOT_INSTALLED)

from keras_tutorial import import_keras
from reference_files import DEFAULT_DATA, cpu_name, exit_code, fashion_mnist, write_json


def import_tensorflow(threads):
    """TensorFlow and Keras (keras_tutorial.import_keras), or exit NOT_INSTALLED saying what is missing."""
    try:
        return import_keras(threads)
    except ImportError as e:
        print(f"keras_reference.py: TensorFlow/Keras is not installed ({e}); pip install tensorflow", file=sys.stderr)
        sys.exit(NOT_INSTALLED)


def make_model(keras, name):
    if name == "mlp":
        layers = [keras.Input((28, 28)), keras.layers.Flatten(),
                  keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
    else:
        layers = [keras.Input((28, 28, 1)),
                  keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
                  keras.layers.Conv2D(64, (3, 3), activation="relu"), keras.layers.MaxPooling2D((2, 2)),
                  keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def run(args, tf, keras):
    images, labels, test_images, test_labels = (np.frombuffer(body, dtype=np.uint8).reshape(dims)
                                                for dims, body in fashion_mnist(args.data))
    test_images, test_labels = test_images[:1000], test_labels[:1000]
    if args.max_steps:
        images, labels = images[:args.max_steps * args.batch_size], labels[:args.max_steps * args.batch_size]
    x = images.astype(np.float32) / 255.0
    x_test = test_images.astype(np.float32) / 255.0
    if args.model == "cnn":
        x, x_test = x[..., np.newaxis], x_test[..., np.newaxis]
    y, y_test = labels.astype(np.int64), test_labels.astype(np.int64)

    keras.utils.set_random_seed(args.seed)
    model = make_model(keras, args.model)
    initial_loss, _ = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ms, self.logs, self.start = [], [], 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.ms.append((time.perf_counter() - self.start) * 1e3)
            self.logs.append({k: float(v) for k, v in (logs or {}).items()})

    timer = EpochTimer()
    model.fit(x, y, batch_size=args.batch_size, epochs=args.epochs + 1, shuffle=True, verbose=0, callbacks=[timer])
    loss_after, accuracy_after = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)

    warmup, last = timer.logs[0], timer.logs[-1]
    min_accuracy = 0.25 if 0 < args.max_steps < 500 else 0.7  # short smoke runs: well above chance (0.1)
    if not (loss_after < initial_loss and warmup.get("accuracy", 0.0) > min_accuracy):
        raise RuntimeError(f"{args.model}: training does not work: loss {initial_loss:.4f} -> {loss_after:.4f}, "
                           f"warm-up accuracy {warmup.get('accuracy', float('nan')):.4f}")
    epoch_ms = timer.ms[1:]  # the first epoch traces the training function
    ms = statistics.median(epoch_ms)
    steps = math.ceil(len(x) / args.batch_size)
    return {
        "program": "keras_reference", "framework": f"keras/tensorflow (Keras {keras.__version__}, "
                                                    f"TensorFlow {tf.__version__})",
        "model": args.model, "device": "cpu", "hardware": cpu_name(),
        "threads": args.threads,  # 0: TensorFlow's default pools
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "usable_cores": len(os.sched_getaffinity(0)), "jit_compile": bool(model.jit_compile),
        "batch_size": args.batch_size, "steps_per_epoch": steps, "epoch_ms": epoch_ms,
        "warmup_epoch_ms": timer.ms[0], "ms_per_epoch_median": ms, "us_per_step": ms * 1e3 / steps,
        "images_per_s": len(x) / (ms * 1e-3),
        # Keras reports an epoch's mean over its steps, as loom and the PyTorch reference do.
        "final_loss": last.get("loss"), "final_accuracy": last.get("accuracy"),
        "validation": {"initial_loss": float(initial_loss), "loss_after": float(loss_after),
                       "accuracy_after": float(accuracy_after), "warmup_epoch_loss": warmup.get("loss"),
                       "warmup_epoch_accuracy": warmup.get("accuracy")},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-steps", type=int, default=0,
                        help="train on the first N batches of the training set (0: all 60,000 images)")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads, with one inter-op thread; 0: TensorFlow's default pools")
    parser.add_argument("--json", help="write the result here too")
    args = parser.parse_args()
    if args.epochs < 1 or args.batch_size < 1 or args.max_steps < 0 or args.threads < 0:
        print("keras_reference.py: --epochs and --batch-size must be at least 1, --max-steps and --threads at least 0",
              file=sys.stderr)
        return 2
    tf, keras = import_tensorflow(args.threads)

    def measure():
        result = run(args, tf, keras)
        print(json.dumps(result), flush=True)
        if args.json:
            write_json(args.json, result)

    return exit_code("keras_reference.py", measure)


if __name__ == "__main__":
    sys.exit(main())
