#!/usr/bin/env bash
# loom's model files work in PyTorch and back: a model trained briefly and saved is rebuilt in PyTorch by
# docs/pytorch_interop.py, whose predictions must match loom's (same arg-max for every test image, probabilities
# within 1e-4); the copy that Python's safetensors package writes must give loom's predict the same CSV, byte for byte.
# For every layer class loom saves: the MLP (Flatten, Dense), a small tutorial CNN (Conv2D, MaxPooling2D) and
# `train_cnn --preset best` (BatchNormalization, ReLU, Dropout), whose moving statistics PyTorch must use in eval
# mode. A layer class or setting the script does not know is refused in one line.
# Usage: pytorch_interop.sh BUILD_DIR SOURCE_DIR   (exit 77: skipped, no PyTorch/safetensors or no data set)
set -u
build=$1
source=$2
source "$(dirname "$0")/cli_support.sh"

# PyTorch may live only in the system Python (Debian's python3-torch).
python=$(find_python torch numpy safetensors.numpy)
if [ -z "$python" ]; then
  echo "SKIPPED: no Python with torch, numpy and safetensors (apt-get install python3-torch; pip install safetensors)"
  exit 77
fi
full_data=$(fashion_mnist_or_skip) || exit 77

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out" || exit 1

# The first 640 training and 1000 test images: the checks concern layouts and layers, which any image exercises, and
# the whole test set would cost the best preset's three passes over it about a minute on two cores.
data=$out/data
mkdir "$data"
if ! "$python" - "$full_data" "$data" <<'EOF'
import gzip, sys
for stem, count in (("train-images-idx3", 640), ("train-labels-idx1", 640), ("t10k-images-idx3", 1000),
                    ("t10k-labels-idx1", 1000)):
    with gzip.open(f"{sys.argv[1]}/{stem}-ubyte.gz") as f:
        idx = f.read()
    dims = [int.from_bytes(idx[4 + 4 * i:8 + 4 * i], "big") for i in range(idx[3])]
    body = 4 + 4 * len(dims)
    item = len(idx[body:]) // dims[0]
    with gzip.open(f"{sys.argv[2]}/{stem}-ubyte.gz", "wb") as f:
        f.write(idx[:4] + count.to_bytes(4, "big") + idx[8:body] + idx[body:body + count * item])
EOF
then
  echo "FAIL: cannot write the first images of $full_data to $data"
  exit 1
fi

predict() {  # predict MODEL CSV: loom's predictions for the test set
  "$build/apps/predict" --device cpu --threads 1 --model "$1" --data "$data" --output "$2" >/dev/null 2>"$2.err" \
    || { fail "predict --model $1: $(cat "$2.err")"; return 1; }
}

round_trip() {  # round_trip RUN TRAINER ARGS...
  local run=$1 trainer=$2  # not `name`, which fail() prints first
  shift 2
  local start=$SECONDS
  "$build/apps/$trainer" --device cpu --threads 1 --epochs 1 --steps-per-epoch 20 --data "$data" \
    --save "$run.safetensors" "$@" >"$run.train" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "$trainer --save $run.safetensors${*:+ $*} exited $rc: $(tail -n 1 "$run.train")"
    return
  fi
  predict "$run.safetensors" "$run.csv" || return
  if ! "$python" "$source/docs/pytorch_interop.py" "$run.safetensors" --data "$data" --compare "$run.csv" \
       --write-copy "${run}_py.safetensors" >"$run.py.out" 2>&1; then
    fail "pytorch_interop.py on $run: $(tail -n 1 "$run.py.out")"
    return
  fi
  grep -E "accuracy|compared" "$run.py.out"
  predict "${run}_py.safetensors" "${run}_py.csv" || return  # the copy Python's safetensors package wrote
  if cmp -s "$run.csv" "${run}_py.csv"; then
    echo "ok: $run round trip in $((SECONDS - start)) s"
  else
    fail "$run: predict gives a different CSV for the copy Python wrote"
  fi
}

round_trip mlp train_mlp
round_trip cnn train_cnn --filters 4 --dense 16
round_trip best train_cnn --preset best

# refused WHAT PATTERN EDIT: the MLP's file with its list of layers changed by the Python statement EDIT (on
# `layers`) must make the script exit 1 with one line on stderr matching PATTERN, not a model that computes otherwise.
refused() {
  local what=$1 pattern=$2 edit=$3
  if ! "$python" - mlp.safetensors "$what.safetensors" "$edit" <<'EOF'
import json, sys
from safetensors import safe_open
from safetensors.numpy import load_file, save_file
with safe_open(sys.argv[1], framework="np") as f:
    metadata = f.metadata()
architecture = json.loads(metadata["architecture"])
exec(sys.argv[3], {"layers": architecture["layers"]})
save_file(load_file(sys.argv[1]), sys.argv[2], metadata={**metadata, "architecture": json.dumps(architecture)})
EOF
  then
    fail "$what: cannot write the edited file"
    return
  fi
  local err rc
  err=$("$python" "$source/docs/pytorch_interop.py" "$what.safetensors" --data "$data" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne 1 ] || ! grep -Eq -- "$pattern" <<<"$err" || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
    fail "$what: exit $rc (expected 1 and one line matching '$pattern'), stderr: $err"
  else
    echo "ok: $what -> $rc: $err"
  fi
}

if [ -f mlp.safetensors ]; then
  refused unknown_class "layer 'gaussian_noise'.*GaussianNoise" \
    'layers.insert(1, {"class_name": "GaussianNoise", "name": "gaussian_noise", "config": {"stddev": 0.1}})'
  refused unknown_setting "layer 'dense' \(Dense\): unknown setting\(s\) \['use_bias'\]" \
    'layers[1]["config"]["use_bias"] = False'
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
