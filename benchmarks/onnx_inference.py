#!/usr/bin/env python3
"""Times inference on the 10,000 Fashion-MNIST test images two ways on the same machine: loom (the Python package's
model.predict on the engine, batch 32 as Keras's default) and ONNX Runtime running the model's export_onnx file (one
session.run over all the images, then over batches of 32), after checking that they agree (the same class for every
image, probabilities within 1e-5).

The sides take turns, --runs times each, in one process: loom, ONNX Runtime (whole set), ONNX Runtime (batches of 32),
then again, so a slower minute of a shared machine falls on all of them alike; each side's median is reported, with
the ratios, and written to --json.

  python3 benchmarks/onnx_inference.py --model cnn.safetensors --runs 7 --json onnx_inference.json

--model is a file train_mlp or train_cnn saved (the tutorial MLP or CNN, or --preset best). The Python package must
be importable (PYTHONPATH=build/python, or pip install .) and onnxruntime installed. loom runs on --device (cpu by
default; ONNX Runtime here uses its CPU provider). Exit status 2 for bad usage, 1 for a failed check.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def loom_model(path):
    """The saved model as a Python-package model: its architecture from the file, then its weights."""
    from safetensors import safe_open
    from loom import keras
    with safe_open(path, "np") as f:
        architecture = json.loads(f.metadata()["architecture"])
    layers = []
    for entry in architecture["layers"]:
        cls = getattr(keras.layers, entry["class_name"])
        config = dict(entry["config"])
        if entry["class_name"] == "Dense" and config.get("activation") == "linear":
            config["activation"] = None
        layers.append(cls(**config))
    model = keras.Sequential([keras.Input(shape=tuple(architecture["input_shape"]))] + layers)
    loss = architecture["loss"]
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=loss["from_logits"]))
    model.load_weights(path)
    return model, loss["from_logits"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a --save file of train_mlp or train_cnn")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not os.path.isfile(args.model):
        parser.error(f"--model: no file '{args.model}'")

    import loom
    import onnxruntime as ort
    from loom import keras
    loom.config.set_device(args.device)
    model, from_logits = loom_model(args.model)
    images = read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
    images = images.reshape((-1,) + tuple(model.input_shape[1:]))
    with tempfile.TemporaryDirectory() as scratch:
        onnx_path = os.path.join(scratch, "model.onnx")
        model.export_onnx(onnx_path)
        session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])

    def with_loom():
        outputs = model.predict(images, batch_size=32, verbose=0)
        return keras.activations.softmax(outputs) if from_logits else outputs

    def with_onnx_runtime():
        return session.run(["probabilities"], {"images": images})[0]

    def with_onnx_runtime_batches():
        return np.concatenate([session.run(["probabilities"], {"images": images[i:i + 32]})[0]
                               for i in range(0, len(images), 32)])

    sides = [("loom predict (batch 32)", with_loom), ("ONNX Runtime, one run", with_onnx_runtime),
             ("ONNX Runtime, batches of 32", with_onnx_runtime_batches)]
    reference = with_loom()
    for name, side in sides[1:]:
        got = side()
        same = int((got.argmax(axis=1) == reference.argmax(axis=1)).sum())
        difference = float(np.abs(got - reference).max())
        print(f"{name}: the same class as loom for {same} of {len(images)} images, probabilities within "
              f"{difference:.3g}")
        if same != len(images) or difference > 1e-5:
            sys.exit(f"onnx_inference: {name} disagrees with loom's predict")

    seconds = {name: [] for name, _ in sides}
    for _ in range(args.runs):
        for name, side in sides:
            start = time.perf_counter()
            side()
            seconds[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    base = medians[sides[0][0]]
    print(f"{len(images)} test images, median of {args.runs} alternated runs, loom on {args.device}, "
          f"ONNX Runtime {ort.__version__} on the CPU:")
    for name, median in medians.items():
        print(f"  {name:30s} {median * 1000:9.1f} ms  ({len(images) / median:,.0f} images/s, "
              f"{median / base:.2f}x loom's time)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "images": len(images), "runs": args.runs, "device": args.device,
                       "onnxruntime": ort.__version__, "seconds": seconds, "median_seconds": medians}, f, indent=2)


if __name__ == "__main__":
    main()
