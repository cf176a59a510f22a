#!/usr/bin/env python3
"""Load a loom model file (safetensors) into PyTorch and run it on the Fashion-MNIST test set.

    python3 docs/pytorch_interop.py MODEL.safetensors [--data DIR] [--compare LOOM.csv] [--write-copy OUT.safetensors]

The file holds the parameters under Keras's names and layouts, and the architecture as JSON in its metadata; this
script builds the same torch.nn.Sequential from them, for every layer class loom saves (the tutorial models and
`train_cnn --preset best`), and runs it in eval mode as loom's predict does: BatchNormalization by its moving
statistics, Dropout off. A layer class or setting it does not know is refused. See docs/PYTORCH_INTEROP.md.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.numpy import save_file


def fail(message):
    sys.exit(f"pytorch_interop.py: {message}")


class ToNHWC(nn.Module):
    """loom is channels-last: its Flatten reads (h, w, c), so put the channels last again before flattening."""
    def forward(self, x):
        return x.permute(0, 2, 3, 1)


# The settings of each layer class in loom's files, as engine/model/architecture.cpp writes them. A setting not listed
# here could change what the layer computes, so a file with one is refused rather than half understood.
LAYER_SETTINGS = {
    "Flatten": set(),
    "Dense": {"units", "activation"},
    "Conv2D": {"filters", "kernel_size", "padding", "activation"},
    "MaxPooling2D": {"pool_size", "strides", "padding"},
    "BatchNormalization": {"momentum", "epsilon"},
    "Dropout": {"rate"},
    "ReLU": set(),
    "Softmax": set(),
}


def padding(config, kernel):
    if config.get("padding", "valid") == "valid":
        return 0
    if config["padding"] == "same" and all(k % 2 == 1 for k in kernel):
        return tuple((k - 1) // 2 for k in kernel)
    fail(f"padding {config['padding']!r} with kernel {list(kernel)} is not supported")


def build(arch, tensors):
    """The torch.nn.Sequential, and for each tensor's Keras name the torch parameter or buffer it went into."""
    layers, params = [], {}
    shape = list(arch["input_shape"])  # one sample's shape in torch's order: (C, H, W) for images
    if len(shape) == 3:
        shape = [shape[2], shape[0], shape[1]]

    def load(name, targets):
        """Copies each tensor NAME.SUFFIX into torch: targets are (SUFFIX, parameter or buffer, the tensor's shape in
        the file, the permutation from Keras's layout to torch's or None)."""
        for suffix, target, keras_shape, permute in targets:
            key = f"{name}.{suffix}"
            tensor = tensors.get(key)
            if tensor is None or list(tensor.shape) != keras_shape:
                fail(f"tensor '{key}' is missing or not of shape {keras_shape}")
            value = torch.from_numpy(np.array(tensor, dtype=np.float32))
            with torch.no_grad():
                target.copy_(value.permute(*permute) if permute else value)
            params[key] = (target, permute)

    for layer in arch["layers"]:
        kind, name, config = layer["class_name"], layer["name"], layer.get("config", {})
        if kind not in LAYER_SETTINGS:
            fail(f"layer '{name}': class '{kind}' is not one this script knows ({', '.join(LAYER_SETTINGS)})")
        if set(config) - LAYER_SETTINGS[kind]:
            fail(f"layer '{name}' ({kind}): unknown setting(s) {sorted(set(config) - LAYER_SETTINGS[kind])}")
        if kind == "Flatten":
            layers += [ToNHWC(), nn.Flatten()] if len(shape) == 3 else [nn.Flatten()]
            shape = [int(np.prod(shape))]
        elif kind == "Dense":
            if len(shape) != 1:
                fail(f"layer '{name}': Dense needs a flat input (add a Flatten)")
            dense = nn.Linear(shape[0], config["units"])
            load(name, [("kernel", dense.weight, [shape[0], config["units"]], (1, 0)),  # [in, out] -> [out, in]
                        ("bias", dense.bias, [config["units"]], None)])
            layers.append(dense)
            shape = [config["units"]]
        elif kind in ("Conv2D", "MaxPooling2D"):
            if len(shape) != 3:
                fail(f"layer '{name}': {kind} needs an image input (height, width, channels)")
            if kind == "Conv2D":
                kernel = tuple(config["kernel_size"])
                conv = nn.Conv2d(shape[0], config["filters"], kernel, padding=padding(config, kernel))
                load(name, [("kernel", conv.weight, [*kernel, shape[0], config["filters"]], (3, 2, 0, 1)),
                            ("bias", conv.bias, [config["filters"]], None)])  # [kh, kw, in, out] -> [out, in, kh, kw]
                layers.append(conv)
            else:
                pool = tuple(config["pool_size"])
                layers.append(nn.MaxPool2d(pool, tuple(config["strides"]), padding(config, pool)))
            shape = list(layers[-1](torch.zeros([1] + shape)).shape[1:])
        elif kind == "BatchNormalization":
            # loom normalizes over its last axis: a flat input's features, an image's channels (torch's axis 1).
            if len(shape) not in (1, 3):
                fail(f"layer '{name}': BatchNormalization of a {shape} input is not supported (flat or image inputs "
                     "only)")
            # Keras's momentum weighs the moving statistics, torch's the batch's: they add up to 1 (rounded, as
            # 1 - 0.99 is 0.010000000000000009 in binary). Only training uses it; in eval mode both normalize by the
            # moving mean and variance, with the same epsilon.
            norm = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(
                shape[0], eps=config["epsilon"], momentum=round(1 - config["momentum"], 7))
            load(name, [("gamma", norm.weight, shape[:1], None), ("beta", norm.bias, shape[:1], None),
                        ("moving_mean", norm.running_mean, shape[:1], None),
                        ("moving_variance", norm.running_var, shape[:1], None)])
            layers.append(norm)
        elif kind == "Dropout":
            layers.append(nn.Dropout(config["rate"]))  # inverted dropout like loom's; eval mode passes x through
        activation = {"ReLU": "relu", "Softmax": "softmax"}.get(kind, config.get("activation", "linear"))
        if activation not in ("linear", "relu", "softmax"):
            fail(f"layer '{name}': unknown activation '{activation}'")
        # loom's softmax runs over the last axis: torch's axis 1 for flat and NCHW data, the last for (h, w) data.
        softmax_axis = 1 if len(shape) != 2 else 2
        layers += {"linear": [], "relu": [nn.ReLU()], "softmax": [nn.Softmax(dim=softmax_axis)]}[activation]
    return nn.Sequential(*layers), params


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def compare(path, probs, labels):
    """Fails unless loom's predictions in `path` have the same arg-max and probabilities within 1e-4."""
    try:
        with open(path) as f:
            header = f.readline().strip()
            rows = np.loadtxt(f, delimiter=",", ndmin=2)
    except (OSError, ValueError) as e:
        fail(f"cannot read {path}: {e}")
    if header != "image,label,predicted," + ",".join(f"p{k}" for k in range(10)):
        fail(f"{path}: unexpected header '{header}'")
    if rows.shape != (len(labels), 13) or not np.array_equal(rows[:, :2], np.c_[np.arange(len(labels)), labels]):
        fail(f"{path}: expected {len(labels)} rows of 13 columns, in test-set order with its labels")
    max_diff = float(np.abs(probs - rows[:, 3:]).max())
    disagreements = int(np.sum(rows[:, 2] != probs.argmax(axis=1)))
    print(f"compared with {path}: max |p - p_loom| = {max_diff:.3g}, arg-max disagreements: {disagreements}")
    if disagreements or max_diff > 1e-4:
        fail(f"mismatch with loom: {disagreements} arg-max disagreements, max |p - p_loom| = {max_diff:.3g} "
             "(tolerance 1e-4)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=os.environ.get("FASHION_MNIST_DIR") or "/usr/share/datasets/fashion-mnist")
    parser.add_argument("--compare", metavar="LOOM_PREDICTIONS.csv")
    parser.add_argument("--write-copy", metavar="OUT.safetensors")
    args = parser.parse_args()

    try:
        with safe_open(args.model, framework="np") as f:
            metadata = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}  # a checkpoint also holds Adam's moments
    except Exception as e:  # noqa: BLE001 (safetensors raises several kinds)
        fail(f"cannot read {args.model}: {e}")
    if metadata.get("format") != "loom" or "architecture" not in metadata:
        fail(f"{args.model}: no loom metadata (format, architecture)")
    paths = [os.path.join(args.data, f"t10k-{kind}-ubyte.gz") for kind in ("images-idx3", "labels-idx1")]
    if not all(os.path.exists(p) for p in paths):
        fail(f"Fashion-MNIST test set not found in {args.data} (apt-get install dataset-fashion-mnist, or --data DIR)")
    try:
        arch = json.loads(metadata["architecture"])
        model, params = build(arch, tensors)
    except (ValueError, KeyError, TypeError, RuntimeError) as e:
        fail(f"{args.model}: bad architecture metadata: {type(e).__name__} {e}")
    print(model.eval())

    images, labels = read_idx(paths[0]), read_idx(paths[1])
    x = torch.from_numpy(images.astype(np.float32) / 255).reshape([len(images)] + arch["input_shape"])
    if x.dim() == 4:
        x = x.permute(0, 3, 1, 2)  # NHWC (loom, Keras) -> NCHW (torch)
    with torch.no_grad():
        out = torch.cat([model(batch) for batch in x.split(1000)])
    # As loom's predict: a model trained on logits gives logits, any other gives its probabilities itself.
    probs = (torch.softmax(out, dim=1) if arch["loss"]["from_logits"] else out).numpy()
    print(f"test accuracy: {np.mean(probs.argmax(axis=1) == labels):.4f} ({len(labels)} images)")
    if args.compare:
        compare(args.compare, probs, labels)

    if args.write_copy:  # the parameters back in Keras's layouts: a file loom's predict reads like its own
        copy = {name: (p.detach().permute(*map(int, np.argsort(perm))) if perm else p.detach()).contiguous().numpy()
                for name, (p, perm) in params.items()}
        kept = {key: value for key, value in metadata.items() if key != "training"}  # a checkpoint's resume state
        save_file(copy, args.write_copy, metadata={**kept, "content": "weights"})
        print(f"wrote {args.write_copy}: {len(copy)} tensors")


if __name__ == "__main__":
    main()
