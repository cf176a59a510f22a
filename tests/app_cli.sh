#!/usr/bin/env bash
# A training app, run as users run it: bad input must end with one line on stderr that names the problem and the
# right exit code (2: bad usage, 1: runtime failure) before any training starts; a short real run must print the
# summary, the epoch line, the test accuracy and the first test image's prediction.
# Usage: app_cli.sh APP   (the app-specific cases are chosen by its name)
set -u
app=$1
name=$(basename "$app")
failures=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

expect() {  # expect EXIT_CODE REGEX ARGS...
  local want=$1 pattern=$2
  shift 2
  local err rc
  err=$("$app" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: $name $* exited $rc, expected $want; stderr: $err"
    failures=$((failures + 1))
  elif ! grep -Eq -- "$pattern" <<<"$err"; then
    echo "FAIL: $name $*: stderr does not match '$pattern': $err"
    failures=$((failures + 1))
  elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
    echo "FAIL: $name $*: expected one line on stderr, got: $err"
    failures=$((failures + 1))
  else
    echo "ok: $name $* -> $rc: $err"
  fi
}

expect 2 "--epochs must be at least 1" --epochs 0 --device cpu
expect 2 "--epochs" --epochs ten --device cpu
expect 2 "--lr must be a positive number" --lr -0.1 --device cpu
expect 2 "--batch-size must be at least 1" --batch-size 0 --device cpu
expect 2 "unknown device 'tpu'" --device tpu
expect 2 "bogus" --bogus
expect 2 "--tf32 needs the GPU" --tf32 --device cpu
expect 2 "dataset-fashion-mnist" --data "$scratch/nowhere" --device cpu
expect 2 "dataset-fashion-mnist" --data "$scratch/nowhere"  # --device auto: still one line, no fallback note first
expect 2 "dataset-fashion-mnist" --data "$scratch/nowhere" --tf32
expect 2 "CUDA|dataset-fashion-mnist" --data "$scratch/nowhere" --device cuda
# A data directory whose files are present but corrupt is a runtime failure naming the file.
mkdir -p "$scratch/corrupt"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  printf 'not an idx file' >"$scratch/corrupt/$f"
done
expect 1 "train-images-idx3-ubyte" --data "$scratch/corrupt" --device cpu
case "$name" in
  train_mlp)
    expect 2 "--hidden: 'x' is not a positive layer width" --hidden 128,x --device cpu
    expect 2 "--hidden" --hidden 0 --device cpu
    expect 2 "ends with a comma" --hidden 128, --device cpu
    expect 2 "too large" --hidden 100000000000 --device cpu
    ;;
  train_cnn)
    expect 2 "--filters must be between 1 and" --filters 0 --device cpu
    expect 2 "--dense must be between 1 and" --dense -3 --device cpu
    expect 2 "--filters must be between 1 and" --filters 99999999 --device cpu
    ;;
esac
# One real epoch on the CPU reference (the CNN narrowed so it takes seconds).
case "$name" in
  train_mlp) run_args=(--epochs 1 --device cpu); params="101,770"; floor=0.80 ;;
  train_cnn) run_args=(--epochs 1 --device cpu --filters 4 --dense 16); params="1,974"; floor=0.60 ;;
  *) run_args=(); params=""; floor=0 ;;
esac
if [ -n "$params" ]; then
  if ! "$app" "${run_args[@]}" >"$scratch/out" 2>"$scratch/err"; then
    echo "FAIL: $name ${run_args[*]} failed: $(cat "$scratch/err")"
    failures=$((failures + 1))
  else
    for want in "Total params: $params" "Epoch 1/1" "1875/1875 \\[=" "313/313 - " "Test accuracy: " \
        "First test image: predicted "; do
      grep -q -- "$want" "$scratch/out" || { echo "FAIL: $name output lacks '$want'"; failures=$((failures + 1)); }
    done
    accuracy=$(sed -n 's/^Test accuracy: //p' "$scratch/out")
    if awk -v a="$accuracy" -v f="$floor" 'BEGIN { exit !(a > f) }'; then
      echo "ok: $name ${run_args[*]} -> test accuracy $accuracy"
    else
      echo "FAIL: $name test accuracy '$accuracy' is not above $floor"
      failures=$((failures + 1))
    fi
  fi
fi

if ! "$app" --help | grep -q -- "--device"; then
  echo "FAIL: $name --help does not list --device"
  failures=$((failures + 1))
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
