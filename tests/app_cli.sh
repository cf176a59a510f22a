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
expect 2 "--validation-split must lie in \[0, 1\)" --validation-split 1 --device cpu
expect 2 "--validation-split" --validation-split half --device cpu
expect 2 "--stop-at-loss must be a positive number" --stop-at-loss -0.5 --device cpu
expect 2 "--early-stopping must be 0 or more" --early-stopping -2 --device cpu
expect 2 "--lr-schedule must be constant, step, cosine or plateau, got 'linear'" --lr-schedule linear --device cpu
expect 2 "--history: history file 'h.txt' must end in .csv or .json" --history h.txt --device cpu
expect 2 "--history: .*cannot write into '$scratch/nowhere/'" --history "$scratch/nowhere/h.csv" --device cpu
mkdir -p "$scratch/folder.csv"
expect 2 "--history: history file '$scratch/folder.csv' exists and is not a regular file" \
  --history "$scratch/folder.csv" --device cpu
# Needs the data set (the real run below does too): the split is checked against the training set's size.
expect 2 "--validation-split 0.99999999 of 60000 samples leaves none to train on" \
  --validation-split 0.99999999 --device cpu
# A diverging run fails within its first epoch, and the history it wrote after that epoch survives the failure.
expect 1 "loss became nan in epoch 1" --lr 1e30 --epochs 3 --device cpu --history "$scratch/diverged.csv"
if [ "$(cut -d, -f1,3 "$scratch/diverged.csv" 2>&1 | tr '\n' ' ')" != "epoch,loss 0,nan " ]; then
  echo "FAIL: $name the diverged run's history is not one epoch with a nan loss: $(cat "$scratch/diverged.csv" 2>&1)"
  failures=$((failures + 1))
fi
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
# A real run on the CPU reference (the CNN narrowed so it takes seconds) with a validation split, the history file
# and a loss threshold that stops it: the MLP as in the tutorial (below 0.4 after epoch 2 of 5), the CNN after its
# first epoch.
history="$scratch/history.csv"
case "$name" in
  train_mlp)
    run_args=(--epochs 5 --device cpu --validation-split 0.1 --stop-at-loss 0.4 --history "$history")
    params="101,770"; floor=0.80; epochs=2 ;;
  train_cnn)
    run_args=(--epochs 2 --device cpu --filters 4 --dense 16 --validation-split 0.1 --stop-at-loss 9
              --history "$history")
    params="1,974"; floor=0.60; epochs=1 ;;
  *) run_args=(); params=""; floor=0; epochs=0 ;;
esac
if [ -n "$params" ]; then
  if ! "$app" "${run_args[@]}" >"$scratch/out" 2>"$scratch/err"; then
    echo "FAIL: $name ${run_args[*]} failed: $(cat "$scratch/err")"
    failures=$((failures + 1))
  else
    for want in "Total params: $params" "Epoch $epochs/${run_args[1]}" \
        "1688/1688 \\[=.* - val_loss: .* - val_accuracy: " \
        "Epoch $epochs: loss [0-9.]* reached [0-9.]*, stopping training" \
        "313/313 - " "Test accuracy: " "First test image: predicted "; do
      grep -q -- "$want" "$scratch/out" || { echo "FAIL: $name output lacks '$want'"; failures=$((failures + 1)); }
    done
    if grep -q -- "Epoch $((epochs + 1))/" "$scratch/out"; then
      echo "FAIL: $name trained past epoch $epochs, where the loss threshold should have stopped it"
      failures=$((failures + 1))
    fi
    # The history file: Keras CSVLogger's header, one row per epoch trained, epochs counted from 0.
    if [ "$(head -1 "$history" 2>/dev/null)" != "epoch,accuracy,loss,val_accuracy,val_loss,learning_rate,seconds" ] ||
        [ "$(tail -n +2 "$history" | cut -d, -f1 | tr '\n' ' ')" != "$(seq -s ' ' 0 $((epochs - 1))) " ]; then
      echo "FAIL: $name history file is not as expected: $(cat "$history" 2>&1)"
      failures=$((failures + 1))
    fi
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
