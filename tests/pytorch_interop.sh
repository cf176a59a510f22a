#!/usr/bin/env bash
# loom's model files work in PyTorch and back: a model trained for one epoch and saved is rebuilt in PyTorch by
# docs/pytorch_interop.py, whose predictions must match loom's (same arg-max for every test image, probabilities
# within 1e-4); the copy that Python's safetensors package writes must give loom's predict the same CSV, byte for byte.
# For the MLP and for a small CNN (so that it stays fast on a few CPU cores).
# Usage: pytorch_interop.sh BUILD_DIR SOURCE_DIR   (exit 77: skipped, no PyTorch/safetensors or no data set)
set -u
build=$1
source=$2
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
source "$(dirname "$0")/cli_support.sh"

# PyTorch may live only in the system Python (Debian's python3-torch).
python=$(find_python torch numpy safetensors.numpy)
if [ -z "$python" ]; then
  echo "SKIPPED: no Python with torch, numpy and safetensors (apt-get install python3-torch; pip install safetensors)"
  exit 77
fi
if [ ! -f "$data/t10k-images-idx3-ubyte.gz" ] || [ ! -f "$data/t10k-labels-idx1-ubyte.gz" ]; then
  echo "SKIPPED: Fashion-MNIST not found in $data (apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)"
  exit 77
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out" || exit 1

predict() {  # predict MODEL CSV: loom's predictions for the test set
  "$build/apps/predict" --device cpu --model "$1" --data "$data" --output "$2" >/dev/null 2>"$2.err" \
    || { fail "predict --model $1: $(cat "$2.err")"; return 1; }
}

round_trip() {  # round_trip NAME TRAINER ARGS...
  local name=$1 trainer=$2
  shift 2
  local start=$SECONDS
  "$build/apps/$trainer" --device cpu --epochs 1 --data "$data" --save "$name.safetensors" "$@" >"$name.train" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "$trainer --save $name.safetensors${*:+ $*} exited $rc: $(tail -n 1 "$name.train")"
    return
  fi
  predict "$name.safetensors" "$name.csv" || return
  if ! "$python" "$source/docs/pytorch_interop.py" "$name.safetensors" --data "$data" --compare "$name.csv" \
       --write-copy "${name}_py.safetensors" >"$name.py.out" 2>&1; then
    fail "pytorch_interop.py on $name: $(tail -n 1 "$name.py.out")"
    return
  fi
  grep -E "accuracy|compared" "$name.py.out"
  predict "${name}_py.safetensors" "${name}_py.csv" || return  # the copy Python's safetensors package wrote
  if cmp -s "$name.csv" "${name}_py.csv"; then
    echo "ok: $name round trip in $((SECONDS - start)) s"
  else
    fail "$name: predict gives a different CSV for the copy Python wrote"
  fi
}

round_trip mlp train_mlp
round_trip cnn train_cnn --filters 4 --dense 16

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
