#!/usr/bin/env bash
# benchmarks/accuracy_seeds.py, which docs/ACCURACY.md's tables come from: its statistics against SciPy's values
# (self-test), then two one-epoch loom runs of the MLP through `run` (train_mlp --validation-data test, its history
# read back) and `compare` against two made-up Keras runs (so TensorFlow is not needed), and a bad --seeds refused.
# Skipped (77) without python3; the runs are skipped without the data set.
# Usage: accuracy_seeds_cli.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
source=$2
script="$source/benchmarks/accuracy_seeds.py"
command -v python3 >/dev/null 2>&1 || { echo "accuracy_seeds_cli skipped: python3 not found"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

python3 "$script" self-test || fail "self-test"
message=$(python3 "$script" run --side loom --model mlp --seeds 3-1 --out "$out" --build "$build" 2>&1)
[ $? -eq 2 ] && [[ "$message" == "accuracy_seeds.py: --seeds '3-1': expected seeds such as 0-4 or 0,3,7" ]] ||
  fail "--seeds 3-1: '$message'"

data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
if [ ! -e "$data/t10k-labels-idx1-ubyte.gz" ] && [ ! -e "$data/t10k-labels-idx1-ubyte" ]; then
  echo "accuracy_seeds_cli: the runs skipped: no Fashion-MNIST in $data"
else
  if python3 "$script" run --side loom --model mlp --seeds 0,1 --epochs 1 --out "$out" --build "$build"; then
    for seed in 0 1; do
      # Keras's side, made up: the file a Keras run writes, its test accuracy 0.01 under loom's.
      python3 - "$out/loom-mlp-seed$seed.json" "$out/keras-mlp-seed$seed.json" <<'PY' || fail "seed $seed's file"
import json, sys
run = json.load(open(sys.argv[1]))
assert run["side"] == "loom" and len(run["epochs"]) == 1 and 0.7 < run["test_accuracy"] < 1, run
run.update(side="keras", framework="made up")
run["test_accuracy"] -= 0.01
json.dump(run, open(sys.argv[2], "w"))
PY
    done
    compared=$(python3 "$script" compare "$out" --model mlp) || fail "compare failed: $compared"
    grep -q "^test accuracy, loom − keras: +0.0100; Welch's t = " <<<"$compared" ||
      fail "compare does not give the difference of 0.01: $compared"
    python3 "$script" run --side loom --model mlp --seeds 0 --epochs 1 --out "$out" --build "$build" |
      grep -q "already there" || fail "a run already there was repeated"
  else
    fail "run --side loom"
  fi
fi
echo "$failures failure(s)"
[ "$failures" -eq 0 ]
