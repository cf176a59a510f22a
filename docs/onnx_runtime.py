#!/usr/bin/env python3
"""Run a model that loom exported to ONNX (export_onnx, or model.export_onnx in Python) with ONNX Runtime.

    python3 docs/onnx_runtime.py MODEL.onnx [--data DIR] [--compare LOOM.csv [--tolerance 1e-5]]
                                            [--weights MODEL.safetensors]

Classifies the Fashion-MNIST test set with ONNX Runtime and prints the accuracy. The checks, for loom's tests and for
anyone who wants to see them: ONNX's own checker (full check: types and shapes inferred strictly) always; with
--compare, every image's class and probabilities against loom's `predict --data DIR --output LOOM.csv`; with
--weights, every weight in the ONNX file against the safetensors file it was exported from (Conv2D kernels are
[out, in, kh, kw] in ONNX, [kh, kw, in, out] in the file). Any failed check exits 1 with one line. A file of
model.export(format="onnx") gives logits where the model was trained from them: they are turned into probabilities
here. See docs/ONNX.md.
"""
import argparse
import csv
import gzip
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime as ort


def fail(message):
    sys.exit(f"onnx_runtime.py: {message}")


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def compare(probabilities, path, tolerance):
    """Holds ONNX Runtime's probabilities to loom's predict CSV: every probability within `tolerance`, and the same
    class for every image whose two likeliest classes loom tells apart by more than twice that (where they are closer,
    rounding may order them either way; such images are counted)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(probabilities):
        fail(f"{path} has {len(rows)} predictions, ONNX Runtime made {len(probabilities)}")
    classes = probabilities.shape[1]
    loom = np.array([[float(row[f"p{k}"]) for k in range(classes)] for row in rows], np.float32)
    loom_class = np.array([int(row["predicted"]) for row in rows])
    onnx_class = probabilities.argmax(axis=1)
    difference = np.abs(probabilities - loom)
    worst = np.unravel_index(difference.argmax(), difference.shape)
    top_two = np.sort(loom, axis=1)[:, -2:]
    tied = top_two[:, 1] - top_two[:, 0] <= 2 * tolerance
    print(f"compared {len(rows)} images with loom's predict: the same class for "
          f"{int((onnx_class == loom_class).sum())}, probabilities within {difference.max():.3g} "
          f"(image {worst[0]}, class {worst[1]}); images whose top two classes loom holds within "
          f"{2 * tolerance:g}: {int(tied.sum())}")
    disagree = np.flatnonzero((onnx_class != loom_class) & ~tied)
    if disagree.size:
        i = disagree[0]
        fail(f"image {i}: ONNX Runtime predicts class {onnx_class[i]}, loom class {loom_class[i]} "
             f"({disagree.size} images disagree)")
    if difference.max() > tolerance:
        fail(f"image {worst[0]}, class {worst[1]}: probability {probabilities[worst]:.9g} in ONNX Runtime, "
             f"{loom[worst]:.9g} in loom (more than {tolerance:g} apart)")


def check_weights(model, path):
    """Every initializer is the safetensors file's tensor of that name (Conv2D kernels transposed to ONNX's layout),
    and every weight of a weights file is one of them."""
    from safetensors import safe_open
    with safe_open(path, "np") as f:
        saved = {name: f.get_tensor(name) for name in f.keys()}
        content = f.metadata().get("content")
    architecture = json.loads({p.key: p.value for p in model.metadata_props}["architecture"])
    conv_kernels = {f"{layer['name']}.kernel" for layer in architecture["layers"] if layer["class_name"] == "Conv2D"}
    names = set()
    for initializer in model.graph.initializer:
        name = initializer.name
        names.add(name)
        if name not in saved:
            fail(f"the ONNX file's weight '{name}' is not in {path}")
        expected = saved[name].transpose(3, 2, 0, 1) if name in conv_kernels else saved[name]
        actual = onnx.numpy_helper.to_array(initializer)
        if actual.shape != expected.shape or not np.array_equal(actual, expected):
            fail(f"weight '{name}' differs from {path}'s ({actual.shape} in ONNX, {expected.shape} expected)")
    missing = sorted(set(saved) - names) if content == "weights" else []  # a checkpoint holds Adam's state too
    if missing:
        fail(f"{path} holds '{missing[0]}', which the ONNX file lacks")
    print(f"weights: the {len(names)} tensors of the ONNX file equal those of {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="the ONNX file loom exported")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"),
                        help="the Fashion-MNIST directory (t10k-*-ubyte.gz)")
    parser.add_argument("--compare", help="loom's predict CSV for the same images (predict --data DIR --output CSV)")
    parser.add_argument("--tolerance", type=float, default=1e-5, help="for --compare: the largest difference allowed")
    parser.add_argument("--weights", help="the safetensors file the model was exported from")
    args = parser.parse_args()

    try:
        model = onnx.load(args.model)
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # onnx's errors are of several kinds, each a line or more of text
        fail(f"{args.model}: {' '.join(str(e).split())[:500]}")
    if args.weights:
        check_weights(model, args.weights)
    try:
        images = read_idx(f"{args.data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255
        labels = read_idx(f"{args.data}/t10k-labels-idx1-ubyte.gz")
    except OSError as e:
        fail(f"cannot read the test set: {e}")

    # What the README shows: images as users feed them (pixels / 255), probabilities out.
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape  # ['N', 28, 28] or ['N', 28, 28, 1]
    output = session.get_outputs()[0].name
    probabilities = session.run([output], {"images": images.reshape([-1] + shape[1:])})[0]
    if output == "logits":  # model.export(format="onnx") of a model trained from logits
        shifted = np.exp(probabilities - probabilities.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    print(f"ONNX Runtime {ort.__version__}: accuracy {(probabilities.argmax(axis=1) == labels).mean():.4f} "
          f"on {len(labels)} test images")

    if args.compare:
        compare(probabilities, args.compare, args.tolerance)


if __name__ == "__main__":
    main()
