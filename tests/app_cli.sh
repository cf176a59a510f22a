#!/usr/bin/env bash
# A training app, run as users run it: bad input must end with one line on stderr that names the problem and the
# right exit code (2: bad usage, 1: runtime failure) before any training starts; a short real run must print the
# summary, the epoch line, the test accuracy and the first test image's prediction. The model files: --save,
# --checkpoint, --resume and --load are checked before training, predict (next to the app) classifies the first test
# image as the run that saved the model did, a checkpoint refuses to resume another run, and (train_mlp) resuming is
# exact: epochs 1-2 plus a resumed epoch 3 give the same weights, byte for byte, as 3 epochs in one go.
# Usage: app_cli.sh APP   (the app-specific cases are chosen by its name)
set -u
app=$1
name=$(basename "$app")
program=$app
source "$(dirname "$0")/cli_support.sh"
predict=$(dirname "$app")/predict
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT


train() {  # train OUTPUT ARGS...: a real run of the app, its stdout in OUTPUT; says FAIL and returns 1 if it fails
  local out=$1 start=$SECONDS
  shift
  if ! "$app" "$@" >"$out" 2>"$out.err"; then
    fail "$* failed: $(cat "$out.err")"
    return 1
  fi
  echo "ok: $name $* ($((SECONDS - start)) s)"
}

# The first test image's prediction that a run printed ("Ankle boot (0.7773)") is the one predict gives for the
# model that run saved, to the printed 4 decimals.
first_prediction_matches() {  # first_prediction_matches TRAINING_OUTPUT MODEL_FILE
  local trained predicted
  trained=$(sed -n 's/^First test image: predicted \(.*)\), true .*/\1/p' "$1")
  predicted=$("$predict" --device cpu --model "$2" --idx "$data/t10k-images-idx3-ubyte.gz" --index 0 2>&1 | head -n 1)
  if [ -z "$trained" ] || [ "${predicted#*\[0\]: }" != "$trained" ]; then
    fail "predict --model $2 --idx t10k-images --index 0 says '$predicted', the run that saved it '$trained'"
    return 1
  fi
  echo "ok: predict --model $2 --index 0 -> ${predicted#*\[0\]: }, as $name printed"
}

expect 2 "--epochs must be a whole number from 1 to 2147483647, got '0'" --epochs 0 --device cpu
expect 2 "--epochs" --epochs ten --device cpu
expect 2 "--lr must be a positive number" --lr -0.1 --device cpu
expect 2 "--batch-size must be a whole number from 1 to 9223372036854775807, got '0'" --batch-size 0 --device cpu
expect 2 "unknown device 'tpu'" --device tpu
expect 2 "bogus" --bogus
expect 2 "--tf32 needs the GPU" --tf32 --device cpu
expect 2 "--validation-split must be in \[0, 1\), got '1'" --validation-split 1 --device cpu
expect_silent 2 "--validation-split must be in \[0, 1\), got '0.99999999999999999'" \
  --validation-split 0.99999999999999999 --device cpu
expect_silent 2 "--lr must be a positive number, got '-1e-50'" --lr -1e-50 --device cpu
expect 2 "--validation-split" --validation-split half --device cpu
expect 2 "--stop-at-loss must be a positive number" --stop-at-loss -0.5 --device cpu
expect 2 "--early-stopping must be a whole number from 0 to 2147483647, got '-2'" --early-stopping -2 --device cpu
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
expect 1 "loss became nan in epoch 1" --lr 1e30 --epochs 3 --device cpu --history "$scratch/diverged.csv" \
  --checkpoint "$scratch/diverged.safetensors"
# Its NaN weights are not checkpointed (no good epoch came before, so there is no file at all).
[ -e "$scratch/diverged.safetensors" ] && fail "a diverged epoch was checkpointed"
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
# Hostile input. Numbers are read one way (decimal, within the flag's range and the type's) and refused as typed.
expect_silent 2 "--epochs must be a whole number from 1 to 2147483647, got '0x10'" --epochs 0x10 --device cpu
expect_silent 2 "--epochs must be a whole number from 1 to 2147483647, got ''" --epochs '' --device cpu
expect_silent 2 "--batch-size must be a whole number from 1 to 9223372036854775807, got '99999999999999999999'" \
  --batch-size 99999999999999999999 --device cpu
expect_silent 2 "--seed must be a whole number from 0 to 18446744073709551615, got '-1'" --seed -1 --device cpu
expect_silent 2 "--seed must be a whole number from 0 to 18446744073709551615, got '18446744073709551616'" \
  --seed 18446744073709551616 --device cpu
expect_silent 2 "--lr 1e-50 is too small for a 32-bit float \(the smallest is 1.17549435e-38\)" --lr 1e-50 --device cpu
expect_silent 2 "--validation-split must be a number, got 'nan'" --validation-split nan --device cpu
expect_silent 2 "--stop-at-loss 1e999 is too large for a 64-bit float" --stop-at-loss 1e999 --device cpu
# Augmentation and steps per epoch.
expect_silent 2 "--random-shift must be a whole number from 0 to 27, got '28'" --random-shift 28 --device cpu
expect_silent 2 "--steps-per-epoch must be a whole number from 1 to 9223372036854775807, got '0'" \
  --steps-per-epoch 0 --device cpu
# The GPU-only flags alike on the CPU.
expect_silent 2 "--no-graph needs the GPU" --no-graph --device cpu
# The CPU path's thread count: the flag, then the environment; refused before anything runs.
expect_silent 2 "^$name: --threads must be a whole number from 1 to 1024, got '0'$" --threads 0 --device cpu
expect_silent 2 "^$name: --threads must be a whole number from 1 to 1024, got '1025'$" --threads 1025 --device cpu
expect_silent 2 "^$name: --threads sets the CPU path's threads: with --device cuda every op runs on the GPU$" \
  --threads 2 --device cuda
OPENBLAS_NUM_THREADS=many expect_silent 2 "^$name: \\\$OPENBLAS_NUM_THREADS must be a whole number of threads $(
  )from 1 to 1024, got 'many'$" --device cpu
# A bad $OMP_NUM_THREADS: loom takes it out of the environment before OpenMP's runtime loads (which would print a
# warning of its own first), and refuses it in its one line, naming the variable; nothing runs.
OMP_NUM_THREADS=lots expect_silent 2 "^$name: \\\$OMP_NUM_THREADS must be a whole number of threads from 1 to 1024, $(
  )got 'lots'$" --device cpu
OMP_NUM_THREADS=0 expect_silent 2 "^$name: \\\$OMP_NUM_THREADS must be a whole number of threads from 1 to 1024, $(
  )got '0'$" --device cpu
# Control bytes in what the user typed are spelled out, never sent raw to the terminal.
expect_silent 2 "^$name: --data: $scratch/\\\\x1b\[31mred: Fashion-MNIST directory not found" \
  --data "$scratch/"$'\e[31m'red --device cpu
expect_silent 2 "^$name: The following argument was not expected: --bogus\\\\x07 \(see --help\)$" --bogus$'\a'
# The data set's place: a file is not a directory (no install hint), --data '' is not "the default", and
# $FASHION_MNIST_DIR is named when it chose the place.
printf 'x' >"$scratch/plain_file"
expect_silent 2 "^$name: --data: $scratch/plain_file: not a directory \(give the directory that holds the four $(
  )Fashion-MNIST files\)$" --data "$scratch/plain_file" --device cpu
expect_silent 2 "^$name: --data is an empty path" --data '' --device cpu
# Nor is any other empty path "not given": --load "$UNSET" must not train from scratch.
for flag in --save --checkpoint --history --report --resume --load; do
  expect_silent 2 "^$name: $flag is an empty path$" "$flag" '' --device cpu
done
FASHION_MNIST_DIR="$scratch/plain_file" expect_silent 2 "^$name: \\\$FASHION_MNIST_DIR: $scratch/plain_file: not a" \
  --device cpu
FASHION_MNIST_DIR="$scratch/nowhere" expect_silent 2 "^$name: \\\$FASHION_MNIST_DIR: $scratch/nowhere: Fashion-MNIST $(
  )directory not found" --device cpu
# Images of another size than the models take: a bad data set (exit 1), refused before the summary.
mkdir -p "$scratch/large_images"
for set in train t10k; do
  { printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x20\x00\x00\x00\x20'; head -c 2048 /dev/zero; } \
    >"$scratch/large_images/$set-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x02\x01\x02' >"$scratch/large_images/$set-labels-idx1-ubyte"
done
expect_silent 1 "^$name: --data: '$scratch/large_images' holds 32x32 images; Fashion-MNIST's, which the models $(
  )take, are 28x28$" --data "$scratch/large_images" --device cpu
# A folder or a file that may not be read is said to be so (exit 1), not "not found" with an install hint. Root
# reads everything, so as root these run as the unprivileged user 65534 (setpriv), on a copy of the app it may run.
unprivileged=$scratch/unprivileged
mkdir -p "$scratch/bin" "$scratch/locked_folder" "$scratch/locked_file"
chmod 755 "$scratch" "$scratch/bin"
cp "$app" "$scratch/bin/$name"
if [ "$(id -u)" -ne 0 ]; then
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$scratch/bin/$name" >"$unprivileged"
elif command -v setpriv >/dev/null; then
  printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "%s" "$@"\n' "$scratch/bin/$name" \
    >"$unprivileged"
else
  unprivileged=
  echo "SKIPPED: $name unreadable data set: running as root without setpriv (util-linux) to drop privileges"
fi
if [ -n "$unprivileged" ]; then
  chmod 755 "$unprivileged"
  # Where user 65534 cannot be switched to (an unmapped uid in a sandbox) or may not reach the copy, skip, saying so.
  if ! "$unprivileged" --help >/dev/null 2>&1; then
    echo "SKIPPED: $name unreadable data set: the app does not run as user 65534 here"
    unprivileged=
  fi
fi
if [ -n "$unprivileged" ]; then
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    touch "$scratch/locked_file/$f.gz"
  done
  chmod 000 "$scratch/locked_folder" "$scratch/locked_file/t10k-labels-idx1-ubyte.gz"
  chmod 755 "$scratch/locked_file"
  saved_program=$program
  program=$unprivileged
  expect_silent 1 "^$name: --data: cannot read '$scratch/locked_folder': Permission denied$" \
    --data "$scratch/locked_folder" --device cpu
  # Found unreadable before any of the four is read (the others are empty: reading them would fail otherwise).
  expect_silent 1 "^$name: --data: cannot read '$scratch/locked_file/t10k-labels-idx1-ubyte.gz': Permission denied$" \
    --data "$scratch/locked_file" --device cpu
  program=$saved_program
  chmod 755 "$scratch/locked_folder"
fi
# Standard output that cannot be written: the run ends at the first failed write with one line and exit 1, before
# training when the summary cannot be printed (so no history is written).
expect_stdout=/dev/full expect 1 "^$name: cannot write to standard output: No space left on device$" \
  --device cpu --history "$scratch/full.csv"
err=$("$app" --device cpu --history "$scratch/closed.csv" 2>&1 >&-)
rc=$?
if [ "$rc" -ne 1 ] || [ "$err" != "$name: cannot write to standard output: it is closed" ]; then
  fail "with stdout closed: exit $rc, stderr: $err"
else
  echo "ok: $name >&- -> 1: $err"
fi
if [ -e "$scratch/full.csv" ] || [ -e "$scratch/closed.csv" ]; then
  fail "trained though the summary could not be printed: $(ls "$scratch"/*.csv 2>&1)"
fi
# A disk that fills up during the run (here a file-size limit, with its signal ignored so the write fails with
# EFBIG): the run stops at the end of the first epoch whose line could not be written, that epoch's history kept.
# The MLP's summary and its first epoch's line fit in the 1 KiB allowed (just), the second's do not.
if [ "$name" = train_mlp ]; then
  (trap '' XFSZ; ulimit -f 1; exec "$app" --device cpu --epochs 3 --validation-split 0.9 \
    --history "$scratch/limited.csv" >"$scratch/limited.out" 2>"$scratch/limited.err")
  rc=$?
  kept=$(tail -n +2 "$scratch/limited.csv" 2>&1 | cut -d, -f1 | tr '\n' ' ')
  said=$(cat "$scratch/limited.err")
  if [ "$rc" -ne 1 ] || [ "$said" != "$name: cannot write to standard output: File too large" ] ||
      { [ "$kept" != "0 " ] && [ "$kept" != "0 1 " ]; }; then
    fail "stdout filling up: exit $rc, stderr: $(cat "$scratch/limited.err"), epochs in the history: $kept"
  else
    echo "ok: $name with stdout limited to 1 KiB -> 1: $(cat "$scratch/limited.err"), history of epochs $kept kept"
  fi
fi
# Model files: where --save and --checkpoint write must be writable and --resume and --load must exist, before the
# data set is even read; a file that is not safetensors is a runtime failure naming it.
expect 2 "--save: file '$scratch/nowhere/m.safetensors': cannot write into '$scratch/nowhere/'" \
  --save "$scratch/nowhere/m.safetensors" --device cpu
expect 2 "--checkpoint: file '$scratch/nowhere/c.safetensors': cannot write into '$scratch/nowhere/'" \
  --checkpoint "$scratch/nowhere/c.safetensors" --device cpu
expect 2 "--save: file '$scratch/folder.csv' exists and is not a regular file" --save "$scratch/folder.csv" --device cpu
expect 2 "--checkpoint: file '$scratch/folder.csv' exists and is not a regular file" \
  --checkpoint "$scratch/folder.csv" --device cpu
expect 2 "--save and --checkpoint name the same file '$scratch/m.safetensors'" \
  --save "$scratch/m.safetensors" --checkpoint "$scratch/./m.safetensors" --device cpu
expect 2 "--checkpoint and --history name the same file '$scratch/h.json'" \
  --checkpoint "$scratch/h.json" --history "$scratch/./h.json" --device cpu
expect 2 "--history would replace the file '$scratch/m.json' that --load reads" \
  --history "$scratch/m.json" --load "$scratch/m.json" --device cpu
expect 2 "--save would replace the file '$scratch/c.safetensors' that --resume reads" \
  --save "$scratch/c.safetensors" --resume "$scratch/c.safetensors" --device cpu
# The same file under other spellings, also before it exists: relative and ./, relative and absolute, a path
# through a symlinked folder.
mkdir -p "$scratch/real" && ln -s real "$scratch/linked"
(cd "$scratch" && expect_silent 2 "--save and --checkpoint name the same file 'x.safetensors'" \
  --save x.safetensors --checkpoint ./x.safetensors --device cpu)
(cd "$scratch" && expect_silent 2 "--save and --checkpoint name the same file 'x.safetensors'" \
  --save x.safetensors --checkpoint "$scratch/x.safetensors" --device cpu)
expect_silent 2 "--save and --checkpoint name the same file '$scratch/real/m.safetensors'" \
  --save "$scratch/real/m.safetensors" --checkpoint "$scratch/linked/m.safetensors" --device cpu
[ -e "$scratch/x.safetensors" ] && fail "a refused run wrote $scratch/x.safetensors"
# A symlink loop is named as one, not as a missing file.
ln -s loop "$scratch/loop"
expect_silent 1 "^$name: --load: cannot read '$scratch/loop': Too many levels of symbolic links$" \
  --load "$scratch/loop" --device cpu
# No output may replace a file of the data set the run reads (and the next run would read): here a folder of links
# to it, found before anything is trained, the link left as it was.
mkdir -p "$scratch/dd"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  ln -s "$data/$f.gz" "$scratch/dd/$f.gz"
done
expect_silent 2 "^$name: --save would replace the data set's file '$scratch/dd/t10k-images-idx3-ubyte.gz' that $(
  )this run reads$" --data "$scratch/dd" --save "$scratch/dd/./t10k-images-idx3-ubyte.gz" --device cpu
expect_silent 2 "^$name: --checkpoint would replace the data set's file '$scratch/dd/train-labels-idx1-ubyte.gz' $(
  )that this run reads$" --data "$scratch/dd" --checkpoint "$data/train-labels-idx1-ubyte.gz" --device cpu
[ -L "$scratch/dd/t10k-images-idx3-ubyte.gz" ] || fail "the data set's link was replaced"
# A long but legal name (252 bytes; the temporary file's name is shortened to fit) keeps the run's files; one the
# folder cannot hold (256 bytes) is refused before training.
long_save=$scratch/$(printf 'w%.0s' $(seq 240)).safetensors
long_history=$scratch/$(printf 'h%.0s' $(seq 248)).csv
if train "$scratch/long.out" --device cpu --threads 1 --epochs 1 --steps-per-epoch 2 --save "$long_save" \
    --history "$long_history"; then
  [ -s "$long_save" ] && [ -s "$long_history" ] || fail "the run with 252-byte names did not keep its files"
  ls "$scratch" | grep -q '\.tmp\.' && fail "temporary files left: $(ls "$scratch" | grep '\.tmp\.')"
fi
expect_silent 2 "^$name: --save: file '$scratch/w+\.safetensors': the file name is 256 bytes long, longer than $(
  )the 255 bytes" --save "$scratch/$(printf 'w%.0s' $(seq 244)).safetensors" --device cpu
# A flag given twice is said plainly, not in CLI11's words.
expect_silent 2 "^$name: --epochs given twice \(give it once\)$" --epochs 1 --epochs=2 --device cpu
expect_silent 2 "^$name: --save given 3 times \(give it once\)$" --save a --save b --save c --device cpu
expect 2 "--resume and --load exclude each other" --resume "$scratch/a.safetensors" --load "$scratch/b.safetensors" \
  --device cpu
expect 2 "--resume: no file '$scratch/none.safetensors'" --resume "$scratch/none.safetensors" --device cpu
expect 2 "--load: no file '$scratch/none.safetensors'" --load "$scratch/none.safetensors" --device cpu
expect 2 "--load: no file '$scratch/none.safetensors'" --load "$scratch/none.safetensors"  # --device auto: one line
printf 'not a model\n' >"$scratch/text.safetensors"
expect 1 "^$name: safetensors file '$scratch/text.safetensors': " --resume "$scratch/text.safetensors" --device cpu
expect 1 "^$name: safetensors file '$scratch/text.safetensors': " --load "$scratch/text.safetensors" --device cpu
case "$name" in
  train_mlp)
    expect 2 "--hidden must be a whole number from 1 to 65536, got 'x'" --hidden 128,x --device cpu
    expect 2 "--hidden must be a whole number from 1 to 65536, got '0'" --hidden 0 --device cpu
    expect 2 "--hidden must be a whole number from 1 to 65536, got '0x10'" --hidden 0x10 --device cpu
    expect 2 "--hidden must be layer widths separated by commas .*, got '128,'" --hidden 128, --device cpu
    expect 2 "--hidden must be a whole number from 1 to 65536, got '100000000000'" --hidden 100000000000 --device cpu
    # Too large for memory: refused with the figures before anything is allocated or printed (40 layers 65536 wide
    # take 2.4 TiB for weights, gradients and moments: more than any host or GPU this runs on has).
    wide=$(printf '65536,%.0s' {1..39})65536
    too_large="^$name: training needs at least [0-9.]+ GiB \\([0-9,]+ parameters: [0-9.]+ GiB for weights, .*more "
    too_large+="than the [0-9.]+ [GM]iB free on (the host|this container's memory limit) .*; use smaller --hidden "
    too_large+="widths or a smaller --batch-size$"
    expect_silent 2 "$too_large" --hidden "$wide" --device cpu
    # A model whose weights a safetensors file cannot hold is refused before training when --save is asked for.
    expect_silent 2 "^$name: --save: this model's file would take 4.1 GiB, more than the 4.0 GiB a safetensors $(
      )file may hold; make the model smaller$" --hidden 32768,32768 --save "$scratch/huge.safetensors" --device cpu
    ;;
  train_cnn)
    expect 2 "--filters must be a whole number from 1 to 65536, got '0'" --filters 0 --device cpu
    expect 2 "--dense must be a whole number from 1 to 65536, got '-3'" --dense -3 --device cpu
    expect 2 "--filters must be a whole number from 1 to 65536, got '99999999'" --filters 99999999 --device cpu
    # The whole training set in one batch of a wide CNN: terabytes of activations, refused before the summary.
    too_large="^$name: training needs at least [0-9.]+ GiB .*; [0-9.]+ GiB for activations and data\\), more than "
    too_large+="the [0-9.]+ [GM]iB free on (the host|this container's memory limit) .*; use a smaller --batch-size, "
    too_large+="--filters or --dense$"
    expect_silent 2 "$too_large" --batch-size 60000 --filters 4096 --device cpu
    ;;
esac
# A real run on the CPU reference (the CNN narrowed so it takes seconds) with a validation split, the history file
# and a loss threshold that stops it: the MLP as in the tutorial (below 0.4 after epoch 2 of 5), the CNN after its
# first epoch. It saves its weights and a checkpoint; other_model: flags that make another architecture.
history="$scratch/history.csv"
model="$scratch/model.safetensors"
checkpoint="$scratch/checkpoint.safetensors"
trained=
case "$name" in
  train_mlp)
    run_args=(--epochs 5 --device cpu --validation-split 0.1 --stop-at-loss 0.4 --history "$history")
    params="101,770"; floor=0.80; epochs=2
    other_model=(--hidden 64); difference="layer 2 \('dense'\) has units 128 in the file, 64 here" ;;
  train_cnn)
    run_args=(--epochs 2 --device cpu --filters 4 --dense 16 --validation-split 0.1 --stop-at-loss 9
              --history "$history")
    params="1,974"; floor=0.60; epochs=1
    other_model=(--filters 8); difference="layer 1 \('conv2d'\) has filters 4 in the file, 8 here" ;;
  *) run_args=(); params=""; floor=0; epochs=0 ;;
esac
if [ -n "$params" ]; then
  if ! "$app" "${run_args[@]}" --save "$model" --checkpoint "$checkpoint" >"$scratch/out" 2>"$scratch/err"; then
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
    trained=yes
  fi
fi

# The saved model predicts as the run did; its checkpoint, of a run the loss threshold stopped, refuses to resume,
# and so does a checkpoint of another architecture, other settings, another learning rate, a weights file or a
# truncated checkpoint (before any training: these are cheap).
if [ -n "$trained" ]; then
  first_prediction_matches "$scratch/out" "$model"
  expect 2 "--resume: '$checkpoint' is of a run that a callback stopped after epoch $epochs: there is nothing to" \
    "${run_args[@]}" --resume "$checkpoint"
  expect 2 "--resume: '$checkpoint' holds another model: $difference" --device cpu "${other_model[@]}" \
    --resume "$checkpoint"
  expect 2 "--load: '$model' holds another model: $difference" --device cpu "${other_model[@]}" --load "$model"
  expect 2 "--resume: '$checkpoint' was trained with --batch-size 32, this run has 64" \
    "${run_args[@]}" --batch-size 64 --resume "$checkpoint"
  expect 2 "--resume: '$checkpoint' holds another model: the optimizer has learning_rate 0.001 in the file, 0.01 here" \
    "${run_args[@]}" --lr 0.01 --resume "$checkpoint"
  expect 2 "--resume: '$model' holds weights only, not a checkpoint" "${run_args[@]}" --resume "$model"
  head -c $(($(stat -c %s "$checkpoint") / 2)) "$checkpoint" >"$scratch/truncated.safetensors"
  expect 1 "^$name: safetensors file '$scratch/truncated.safetensors': " \
    "${run_args[@]}" --resume "$scratch/truncated.safetensors"
fi

# train_mlp: resuming is exact on the CPU, callbacks with state included. Two epochs with a checkpoint (its weights
# saved too), then a third resumed from it, save the same weights, byte for byte, as three epochs in one go, and the
# resumed run's history file holds all three. The two-epoch model also shows predict agreeing with train_mlp (predict
# --idx --index 0 prints the class and probability train_mlp printed for the first test image) and starts a --load
# run (on a tenth of the training set, to be quick), whose first epoch must begin from the trained weights.
if [ "$name" = train_mlp ]; then
  resume_args=(--device cpu --validation-split 0.1 --early-stopping 2 --lr-schedule plateau)
  two="$scratch/two.safetensors"
  two_checkpoint="$scratch/two_checkpoint.safetensors"
  if train "$scratch/two.out" --epochs 2 "${resume_args[@]}" --checkpoint "$two_checkpoint" --save "$two"; then
    if first_prediction_matches "$scratch/two.out" "$two" &&
        ! grep -q "^First test image: predicted Ankle boot " "$scratch/two.out"; then
      fail "after 2 epochs the first test image is not predicted as Ankle boot: $(grep "^First" "$scratch/two.out")"
    fi
    expect 2 "--resume: '$two_checkpoint' has 2 epochs done; --epochs 2 asks for no more" \
      --epochs 2 "${resume_args[@]}" --resume "$two_checkpoint"
    expect 2 "--resume: '$two_checkpoint' was trained with --lr-schedule plateau, this run has constant" \
      --epochs 3 --device cpu --validation-split 0.1 --early-stopping 2 --resume "$two_checkpoint"
    if train "$scratch/resumed.out" --epochs 3 "${resume_args[@]}" --resume "$two_checkpoint" \
          --save "$scratch/resumed.safetensors" --history "$scratch/resumed.csv"; then
      grep -q "^Resuming from '$two_checkpoint' after epoch 2$" "$scratch/resumed.out" ||
        fail "the resumed run does not say where it resumes from"
      if [ "$(grep -o "^Epoch [0-9]*/3" "$scratch/resumed.out" | tr '\n' ' ')" != "Epoch 3/3 " ]; then
        fail "the resumed run did not train epoch 3 alone: $(grep "^Epoch" "$scratch/resumed.out" | tr '\n' ' ')"
      fi
      if [ "$(tail -n +2 "$scratch/resumed.csv" | cut -d, -f1 | tr '\n' ' ')" != "0 1 2 " ]; then
        fail "the resumed run's history file does not hold epochs 0 to 2: $(cat "$scratch/resumed.csv" 2>&1)"
      fi
      if train "$scratch/three.out" --epochs 3 "${resume_args[@]}" --save "$scratch/three.safetensors"; then
        if cmp -s <(tensor_bytes "$scratch/resumed.safetensors") <(tensor_bytes "$scratch/three.safetensors"); then
          echo "ok: $name 2 epochs + 1 resumed == 3 epochs (cmp of the tensor bytes)"
        else
          fail "2 epochs + 1 resumed from the checkpoint do not save the weights that 3 epochs in one go save"
        fi
      fi
    fi
    # A cosine schedule decays over the run's --epochs: resuming it towards another end is refused.
    if train "$scratch/cosine.out" --epochs 1 --device cpu --validation-split 0.9 --lr-schedule cosine \
        --checkpoint "$scratch/cosine.safetensors"; then
      expect 2 "was trained with --lr-schedule cosine \(--epochs 1\), this run has cosine \(--epochs 2\)" \
        --epochs 2 --device cpu --validation-split 0.9 --lr-schedule cosine --resume "$scratch/cosine.safetensors"
    fi
    # Fine-tuning at another rate is what --load is for (--resume would refuse it).
    if train "$scratch/loaded.out" --epochs 1 --device cpu --validation-split 0.9 --lr 0.0005 --load "$two"; then
      first_loss() { grep -m 1 -o " - loss: [0-9.]*" "$1" | sed 's/.* //'; }
      fresh=$(first_loss "$scratch/two.out") loaded=$(first_loss "$scratch/loaded.out")
      accuracy=$(sed -n 's/^Test accuracy: //p' "$scratch/loaded.out")
      if ! awk -v l="$loaded" -v f="$fresh" -v a="$accuracy" 'BEGIN { exit !(l != "" && l < f && a > 0.80) }'; then
        fail "--load $two: the first epoch's loss $loaded is not below a fresh run's $fresh, or the test" \
          "accuracy '$accuracy' is not above 0.80"
      else
        echo "ok: $name --load: first epoch's loss $loaded (fresh: $fresh), test accuracy $accuracy"
      fi
    fi
  fi
fi

# train_cnn --preset best: its flags, then a short run (5 steps an epoch) with its layers, augmentation and cosine
# schedule, whose saved model (BatchNormalization and Dropout, moving statistics) predict rebuilds and agrees with;
# train_mlp: augmentation of the 28x28 images it flattens.
if [ "$name" = train_cnn ]; then
  expect_silent 2 "^$name: --preset must be tutorial or best, got 'deep'$" --preset deep --device cpu
  expect_silent 2 "^$name: --filters sizes the tutorial's CNN; --preset best has its own layers$" \
    --preset best --filters 8 --device cpu
  if train "$scratch/best.out" --preset best --epochs 2 --steps-per-epoch 5 --device cpu --threads 1 \
      --save "$scratch/best.safetensors"; then
    for want in "Total params: 392,330" "Non-trainable params: 960" "^Epoch 2/2" "^5/5 \\[=" \
        "^First test image: predicted "; do
      grep -q -- "$want" "$scratch/best.out" || fail "--preset best output lacks '$want'"
    done
    first_prediction_matches "$scratch/best.out" "$scratch/best.safetensors"
  fi
elif [ "$name" = train_mlp ]; then
  train "$scratch/shifted.out" --epochs 1 --steps-per-epoch 50 --random-shift 3 --random-flip --device cpu &&
    { grep -q "^50/50 \\[=" "$scratch/shifted.out" || fail "--steps-per-epoch 50 did not train 50 steps"; }
fi

# --validation-data test: the test set evaluated after every epoch (Keras's validation_data=(test_images,
# test_labels)); its last val_accuracy is the test accuracy printed after training, the same weights on the same
# images. --no-shuffle: every epoch takes the training set in order, so two runs from the same weights train alike
# whatever their --seed (it would draw their orders otherwise). The CNN narrowed, as above.
expect_silent 2 "^$name: --validation-data must be test \(the test set, evaluated after every epoch\), got 'train'$" \
  --validation-data train --device cpu
expect_silent 2 "^$name: --validation-data and --validation-split exclude each other" \
  --validation-data test --validation-split 0.1 --device cpu
small=()
[ "$name" = train_cnn ] && small=(--filters 4 --dense 16)
if [ -n "$params" ] && train "$scratch/validated.out" --device cpu --epochs 2 --steps-per-epoch 3 "${small[@]}" \
    --validation-data test --history "$scratch/validated.csv" --save "$scratch/start.safetensors"; then
  validated=$(sed -n 's/.* - val_accuracy: \([0-9.]*\)$/\1/p' "$scratch/validated.out" | tail -n 1)
  tested=$(sed -n 's/^Test accuracy: //p' "$scratch/validated.out")
  [ -n "$validated" ] && [ "$validated" = "$tested" ] ||
    fail "--validation-data test: the last epoch's val_accuracy '$validated' is not the test accuracy '$tested'"
  [ "$(head -n 1 "$scratch/validated.csv" | cut -d, -f1-5)" = "epoch,accuracy,loss,val_accuracy,val_loss" ] ||
    fail "--validation-data test: the history lacks the val_ columns: $(head -n 1 "$scratch/validated.csv")"
  for order in --no-shuffle ""; do
    for seed in 1 2; do
      train "$scratch/order$seed.out" --device cpu --epochs 1 --steps-per-epoch 3 "${small[@]}" --seed "$seed" \
        --load "$scratch/start.safetensors" $order --save "$scratch/order$seed.safetensors" || continue 2
    done
    if [ -n "$order" ]; then
      cmp -s <(tensor_bytes "$scratch/order1.safetensors") <(tensor_bytes "$scratch/order2.safetensors") ||
        fail "--no-shuffle: runs with --seed 1 and 2 from the same weights trained differently"
    else
      cmp -s <(tensor_bytes "$scratch/order1.safetensors") <(tensor_bytes "$scratch/order2.safetensors") &&
        fail "without --no-shuffle, runs with --seed 1 and 2 trained on the same batches"
    fi
  done
fi

if ! "$app" --help | grep -q -- "--device"; then
  echo "FAIL: $name --help does not list --device"
  failures=$((failures + 1))
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
