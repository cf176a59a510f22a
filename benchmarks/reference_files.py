"""What the Python benchmarks share, with no framework imported: the Fashion-MNIST files as loom reads them (IDX,
gzip or raw), found where loom finds them, the CPU's name for their reports, and how they write JSON and fail. Each
framework's script turns the bytes into its own arrays."""
import gzip
import json
import math
import os
import platform
import struct
import sys

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
# The exit status of a script whose framework (TensorFlow, PyTorch) is not installed: a caller tells it from a failure.
NOT_INSTALLED = 3
STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class UsageError(Exception):
    pass


def read_idx(path):
    """An unsigned-byte IDX file (gzip or raw) as (dims, bytes); raises ValueError naming the file if malformed."""
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 4:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    if len(data) < 4 + 4 * rank:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    body = data[4 + 4 * rank:]
    if len(body) != math.prod(dims):
        raise ValueError(f"{path}: header declares {math.prod(dims)} bytes, file holds {len(body)}")
    return dims, body


def find_file(directory, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise UsageError(f"{os.path.join(directory, stem)}.gz: Fashion-MNIST file not found; install the data set with: "
                     "sudo apt-get install dataset-fashion-mnist, or pass --data DIR")


def fashion_mnist(directory):
    """Training images, training labels, test images, test labels: each (dims, bytes)."""
    return [read_idx(find_file(directory, stem)) for stem in STEMS]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def write_json(path, value):
    """Writes `value` to `path` whole or not at all (a partial file, renamed when complete)."""
    partial = path + ".partial"
    with open(partial, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(partial, path)


def exit_code(program, body):
    """Runs body(): 0 when it returns, else one line on stderr naming `program` and 2 for a UsageError, 1 for a file
    that cannot be read or a run that failed."""
    try:
        body()
    except UsageError as e:
        print(f"{program}: {e}", file=sys.stderr)
        return 2
    except (OSError, EOFError, ValueError, RuntimeError) as e:  # EOFError: a truncated gzip file
        print(f"{program}: {e}", file=sys.stderr)
        return 1
    return 0
