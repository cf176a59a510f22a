#!/usr/bin/env bash
# predict, run as users run it, on a model that train_mlp trains for one epoch here: bad input must end with one line
# on stderr that names the problem and the right exit code (2: bad usage, 1: runtime failure); an IDX image prints
# its class and the ten probabilities, the same ones train_mlp printed for the first test image; --data gives the
# test accuracy train_mlp printed and --output a CSV of every prediction; PNG pictures (written here by Python: the
# first test image as 28x28 gray, as 56x56 RGB, and inverted, on white) are classified as that image is.
# Usage: predict_cli.sh PREDICT TRAIN_MLP   (exit 77: skipped, no data set)
set -u
predict=$1
train_mlp=$2
name=$(basename "$predict")
program=$predict
source "$(dirname "$0")/cli_support.sh"
data=$(fashion_mnist_or_skip) || exit 77
images=$data/t10k-images-idx3-ubyte.gz
labels=$data/t10k-labels-idx1-ubyte.gz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT


run() {  # run OUTPUT ARGS...: predict's stdout in OUTPUT; says FAIL and returns 1 if it fails
  local out=$1
  shift
  if ! "$predict" "$@" >"$out" 2>"$out.err"; then
    fail "$* failed: $(cat "$out.err")"
    return 1
  fi
}

# The model: the tutorial's MLP after one epoch, its weights and its checkpoint.
model=$scratch/model.safetensors
checkpoint=$scratch/checkpoint.safetensors
start=$SECONDS
if ! "$train_mlp" --device cpu --epochs 1 --data "$data" --save "$model" --checkpoint "$checkpoint" \
    >"$scratch/train.out" 2>"$scratch/train.err"; then
  fail "(the model) $train_mlp --device cpu --epochs 1 --save $model failed: $(cat "$scratch/train.err")"
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: train_mlp --device cpu --epochs 1 --save ($((SECONDS - start)) s)"
trained_accuracy=$(sed -n 's/^Test accuracy: //p' "$scratch/train.out")
trained_first=$(sed -n 's/^First test image: predicted \(.*)\), true .*/\1/p' "$scratch/train.out")

# Bad usage, each refused before the model or the images are read.
expect 2 "--model is required" --idx "$images" --index 0 --device cpu
expect 2 "give exactly one of: PNG pictures, --idx FILE --index I, or --data DIR \(got 0\)" \
  --model "$model" --device cpu
expect 2 "give exactly one of: .* \(got 2\)" --model "$model" "$scratch/a.png" --idx "$images" --index 0 --device cpu
expect 2 "give exactly one of: .* \(got 2\)" --model "$model" --idx "$images" --index 0 --data "$data" --device cpu
expect 2 "--idx needs --index I" --model "$model" --idx "$images" --device cpu
expect 2 "--index needs --idx FILE" --model "$model" --data "$data" --index 3 --device cpu
expect 2 "--index" --model "$model" --idx "$images" --index first --device cpu
expect 2 "--invert applies to PNG pictures only" --model "$model" --idx "$images" --index 0 --invert --device cpu
expect 2 "--output: file '$scratch/p.txt' must end in .csv" --model "$model" --data "$data" --output "$scratch/p.txt" \
  --device cpu
expect 2 "--output: file '$scratch/nowhere/p.csv': cannot write into '$scratch/nowhere/'" \
  --model "$model" --data "$data" --output "$scratch/nowhere/p.csv" --device cpu
mkdir -p "$scratch/folder.csv"
expect 2 "--output: file '$scratch/folder.csv' exists and is not a regular file" \
  --model "$model" --data "$data" --output "$scratch/folder.csv" --device cpu
expect 2 "--batch-size must be a whole number from 1 to 9223372036854775807, got '0'" --model "$model" --idx "$images" \
  --index 0 --batch-size 0 --device cpu
expect 2 "unknown device 'tpu'" --model "$model" --idx "$images" --index 0 --device tpu
expect 2 "bogus" --model "$model" --bogus
# Bad input: usage errors where the user named the wrong thing, runtime failures naming a corrupt file.
expect 2 "--index 10000 is outside the 10000 images of '$images' \(0 to 9999\)" \
  --model "$model" --idx "$images" --index 10000 --device cpu
expect 2 "--index must be a whole number from 0 to 9223372036854775807, got '-1'" --model "$model" --idx "$images" \
  --index -1 --device cpu
expect 2 "--data is an empty path" --model "$model" --data '' --device cpu
# Standard output that cannot be written is a failure (exit 1, one line), not a silent success.
expect_stdout=/dev/full expect 1 "^$name: cannot write to standard output: No space left on device$" \
  --model "$model" --idx "$images" --index 0 --device cpu
expect 2 "--idx: '$labels' holds an array of rank 1, not images" --model "$model" --idx "$labels" --index 0 --device cpu
expect 2 "dataset-fashion-mnist" --model "$model" --data "$scratch/nowhere" --device cpu
expect 2 "picture '$scratch/none.png': no such file" --model "$model" "$scratch/none.png" --device cpu
printf 'not a picture\n' >"$scratch/text.png"
expect 1 "picture '$scratch/text.png': not a PNG file" --model "$model" "$scratch/text.png" --device cpu
printf 'not a model\n' >"$scratch/text.safetensors"
expect 1 "^$name: safetensors file '$scratch/text.safetensors': " \
  --model "$scratch/text.safetensors" --idx "$images" --index 0 --device cpu
expect 1 "^$name: safetensors file '$scratch/text.safetensors': " \
  --model "$scratch/text.safetensors" --idx "$images" --index 0  # --device auto: one line, no fallback note first
head -c $(($(stat -c %s "$model") / 2)) "$model" >"$scratch/truncated.safetensors"
expect 1 "^$name: safetensors file '$scratch/truncated.safetensors': .*truncated" \
  --model "$scratch/truncated.safetensors" --idx "$images" --index 0 --device cpu
expect 2 "^$name: --model: no file '$scratch/none.safetensors'" \
  --model "$scratch/none.safetensors" --idx "$images" --index 0 --device cpu
expect 2 "^$name: --idx: no file '$scratch/none.gz'" --model "$model" --idx "$scratch/none.gz" --index 0 --device cpu

# One IDX image: "NAME [I]: CLASS (p)", then the ten classes with their probabilities (summing to 1), the best one
# marked; the first test image as train_mlp printed it. The checkpoint holds the same weights: the same output.
classes="T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle boot"
if run "$scratch/idx.out" --model "$model" --idx "$images" --index 0 --device cpu; then
  head=$(head -n 1 "$scratch/idx.out")
  if [ "$head" != "$images [0]: $trained_first" ]; then
    fail "--idx --index 0 prints '$head', expected '$images [0]: $trained_first' (train_mlp's first test image)"
  fi
  if [ "$(wc -l <"$scratch/idx.out")" -ne 11 ] ||
      [ "$(tail -n +2 "$scratch/idx.out" | sed -E 's/^  (.*[^ ]) +[01]\.[0-9]{4}(  <)?$/\1/' | tr '\n' ' ')" != \
        "$classes " ]; then
    fail "--idx output is not 'NAME: CLASS (p)' and the ten classes with probabilities: $(cat "$scratch/idx.out")"
  fi
  marked=$(grep -c "  <$" "$scratch/idx.out")
  best=$(grep "  <$" "$scratch/idx.out" | sed -E 's/^  (.*[^ ]) +([01]\.[0-9]{4})  <$/\1 (\2)/')
  if [ "$marked" -ne 1 ] || [ "$best" != "${head#*\[0\]: }" ]; then
    fail "--idx output does not mark its one best class '${head#*\[0\]: }': $(cat "$scratch/idx.out")"
  fi
  sum=$(tail -n +2 "$scratch/idx.out" | awk '{ s += ($NF == "<" ? $(NF - 1) : $NF) } END { printf "%.4f", s }')
  if ! awk -v s="$sum" 'BEGIN { exit !(s > 0.999 && s < 1.001) }'; then
    fail "--idx probabilities sum to $sum, not 1"
  fi
  echo "ok: $name --idx --index 0 -> ${head#*\[0\]: }, probabilities summing to $sum"
  if run "$scratch/checkpoint.out" --model "$checkpoint" --idx "$images" --index 0 --device cpu &&
      ! cmp -s "$scratch/idx.out" "$scratch/checkpoint.out"; then
    fail "--model CHECKPOINT predicts otherwise than --model WEIGHTS of the same run:" \
      "$(head -n 1 "$scratch/checkpoint.out")"
  fi
fi

# --output never replaces what predict reads, under any spelling.
cp "$model" "$scratch/model.csv"
expect 2 "^$name: --output would replace the file '$scratch/model.csv' that --model reads$" \
  --model "$scratch/model.csv" --idx "$images" --index 0 --output "$scratch/./model.csv" --device cpu
# Files that are not files to read are refused at once (a FIFO is never waited on), by one rule: not a regular file
# or no file, exit 2; a file that cannot be read, exit 1.
mkfifo "$scratch/fifo.gz" "$scratch/fifo.safetensors"
mkdir "$scratch/dir.png"
ln -s loop.png "$scratch/loop.png"
printf '#!/bin/sh\nexec timeout 20 "%s" "$@"\n' "$predict" >"$scratch/predict_within_20s"
chmod +x "$scratch/predict_within_20s"
program=$scratch/predict_within_20s  # a hang fails (exit 124) instead of blocking the suite
expect 2 "^$name: $scratch/fifo.gz: is a FIFO, not a file$" --model "$model" --idx "$scratch/fifo.gz" --index 0 --device cpu
expect 2 "safetensors file '$scratch/fifo.safetensors': is a FIFO, not a file$" --model "$scratch/fifo.safetensors" \
  --idx "$images" --index 0 --device cpu
expect 2 "picture '$scratch/dir.png': is a directory, not a file$" --model "$model" "$scratch/dir.png" --device cpu
expect 1 "Too many levels of symbolic links$" --model "$model" "$scratch/loop.png" --device cpu
program=$predict
# The test set alone is enough for --data: the training files are not read.
mkdir "$scratch/test_only"
ln -s "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz" "$scratch/test_only/"
if run "$scratch/test_only.out" --model "$model" --data "$scratch/test_only" --device cpu; then
  [ "$(sed -n 's/^Test accuracy: //p' "$scratch/test_only.out")" = "$trained_accuracy" ] ||
    fail "--data with the test files only: $(tail -n 1 "$scratch/test_only.out"), train_mlp printed $trained_accuracy"
fi

# The test set: the accuracy train_mlp printed; the CSV has a row per image whose labels and predictions give that
# accuracy, and whose probabilities sum to 1.
if run "$scratch/data.out" --model "$model" --data "$data" --output "$scratch/predictions.csv" --device cpu; then
  accuracy=$(sed -n 's/^Test accuracy: //p' "$scratch/data.out")
  if [ -z "$accuracy" ] || [ "$accuracy" != "$trained_accuracy" ] || ! grep -q "^313/313 - " "$scratch/data.out"; then
    fail "--data prints test accuracy '$accuracy', train_mlp printed '$trained_accuracy': $(cat "$scratch/data.out")"
  else
    echo "ok: $name --data -> test accuracy $accuracy, as train_mlp printed"
  fi
  csv=$scratch/predictions.csv
  if [ "$(head -n 1 "$csv")" != "image,label,predicted,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9" ] ||
      [ "$(wc -l <"$csv")" -ne 10001 ] || [ "$(sed -n 2p "$csv" | cut -d, -f1,2)" != "0,9" ]; then
    fail "--output CSV: not the header and 10000 rows from image 0 (label 9): $(head -n 2 "$csv")"
  else
    csv_accuracy=$(awk -F, 'NR > 1 { n++; right += ($2 == $3); for (k = 4; k <= 13; k++) s = s + $k;
                               if (NF != 13 || s < 0.999 || s > 1.001) bad++; s = 0 }
                            END { if (bad) print "bad rows: " bad; else printf "%.4f", right / n }' "$csv")
    if [ "$csv_accuracy" != "$accuracy" ]; then
      fail "--output CSV gives accuracy '$csv_accuracy', predict printed $accuracy"
    else
      echo "ok: $name --output CSV: 10000 rows, accuracy $csv_accuracy"
    fi
  fi
fi

# PNG pictures of the first test image: 28x28 gray is read back unchanged (the same output as --idx), 56x56 RGB and
# the inverted picture (dark on white, with --invert) are that image too, so they get its class.
python=$(find_python gzip struct zlib)
if [ -z "$python" ]; then
  echo "SKIPPED: the PNG pictures (no python3 to write them)"
elif ! "$python" - "$images" "$scratch" <<'EOF'
import gzip, struct, sys, zlib

images, out = sys.argv[1], sys.argv[2]
with gzip.open(images) as f:
    magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
    assert magic == 0x803 and (rows, cols) == (28, 28), "not 28x28 IDX images"
    pixels = f.read(28 * 28)


def png(path, width, height, lines, colour_type):  # 8-bit samples; colour_type 0: gray, 2: RGB
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    data = zlib.compress(b"".join(b"\0" + line for line in lines))  # filter type 0 (none) on every line
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b""))


lines = [pixels[28 * y:28 * y + 28] for y in range(28)]
png(out + "/first.png", 28, 28, lines, 0)
doubled = [bytes(v for p in line for v in (p, p, p) * 2) for line in lines for _ in (0, 1)]  # each pixel 2x2
png(out + "/first_rgb56.png", 56, 56, doubled, 2)
png(out + "/first_on_white.png", 28, 28, [bytes(255 - p for p in line) for line in lines], 0)
EOF
then
  fail "could not write the PNG pictures with $python"
else
  want_class=${trained_first% (*}
  first=$scratch/first.png
  if run "$scratch/png.out" --model "$model" "$first" "$scratch/first_rgb56.png" --device cpu; then
    if [ "$(wc -l <"$scratch/png.out")" -ne 22 ] || [ "$(head -n 1 "$scratch/png.out")" != "$first: $trained_first" ] ||
        [ "$(sed -n 2,11p "$scratch/png.out")" != "$(tail -n +2 "$scratch/idx.out" 2>/dev/null)" ]; then
      fail "the 28x28 PNG of the first test image is not classified as --idx --index 0 is:" \
        "$(head -n 11 "$scratch/png.out")"
    else
      echo "ok: $name $first -> $trained_first, as --idx --index 0"
    fi
    line=$(sed -n 12p "$scratch/png.out")
    if [[ "$line" != "$scratch/first_rgb56.png: $want_class ("[01].[0-9][0-9][0-9][0-9]")" ]]; then
      fail "the 56x56 RGB PNG of the first test image is not classified as $want_class: $line"
    else
      echo "ok: $name ${line#"$scratch/"}"
    fi
  fi
  if run "$scratch/white.out" --model "$model" --invert "$scratch/first_on_white.png" --device cpu; then
    line=$(head -n 1 "$scratch/white.out")
    if [[ "$line" != "$scratch/first_on_white.png: $want_class ("[01].[0-9][0-9][0-9][0-9]")" ]] ||
        [ "$(wc -l <"$scratch/white.out")" -ne 11 ]; then
      fail "--invert: the first test image on white is not classified as $want_class: $(cat "$scratch/white.out")"
    else
      echo "ok: $name --invert ${line#"$scratch/"}"
    fi
  fi
  head -c 60 "$first" >"$scratch/truncated.png"
  expect 1 "picture '$scratch/truncated.png': " --model "$model" "$scratch/truncated.png" --device cpu
fi

# Files edited by hand (Python rewrites their header or bytes): one NaN weight is refused naming the tensor, not
# printed as "T-shirt/top (nan)"; a checkpoint of an early-stopped run holds the last epoch's weights while the run
# ended with (and --save wrote) the best epoch's, and predict says so on stderr.
python=$(find_python json struct)
if [ -z "$python" ]; then
  echo "SKIPPED: the hand-edited files (no python3 to write them)"
else
  edit() {  # edit nan FILE OUT | edit best CHECKPOINT OUT BEST_EPOCH WAIT | edit show CHECKPOINT
    "$python" - "$@" <<'EOF'
import json, math, struct, sys

mode, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    raw = f.read()
size = struct.unpack("<Q", raw[:8])[0]
header, data = json.loads(raw[8:8 + size]), bytearray(raw[8 + size:])
training = json.loads(header["__metadata__"].get("training", "{}"))
early = training.get("callbacks", {}).get("early_stopping", {}).get("numbers", {})
if mode == "show":  # "EPOCHS_DONE BEST_EPOCH" (epochs from 1; best 0 without early stopping)
    print(training["epochs_done"], int(float(early.get("best_epoch", "-1"))) + 1)
    sys.exit()
if mode == "nan":  # element 17 of dense.kernel
    begin = header["dense.kernel"]["data_offsets"][0] + 17 * 4
    data[begin:begin + 4] = struct.pack("<f", math.nan)
else:
    early["best_epoch"], early["wait"] = sys.argv[4], sys.argv[5]
    header["__metadata__"]["training"] = json.dumps(training)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[3], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
EOF
  }
  if edit nan "$model" "$scratch/nan.safetensors"; then
    expect 1 "^$name: safetensors file '$scratch/nan.safetensors': tensor 'dense.kernel' holds a NaN at element 17 " \
      --model "$scratch/nan.safetensors" --idx "$images" --index 0 --device cpu
  else
    fail "could not write a model with a NaN weight"
  fi
  if [ -s "$scratch/checkpoint.out.err" ]; then
    fail "--model CHECKPOINT of a run without early stopping says: $(cat "$scratch/checkpoint.out.err")"
  fi
  stopped=$scratch/early.safetensors
  if ! "$train_mlp" --device cpu --epochs 2 --steps-per-epoch 5 --early-stopping 3 --data "$data" \
      --checkpoint "$stopped" >"$scratch/early.out" 2>"$scratch/early.err"; then
    fail "(the early-stopped run) $train_mlp --early-stopping 3 failed: $(cat "$scratch/early.err")"
  else
    # As trained, then with the best epoch made the first: the line names both epochs when they differ.
    read -r last trained_best < <(edit show "$stopped")
    edit best "$stopped" "$scratch/best1.safetensors" 0 1 || fail "could not edit the early-stopped checkpoint"
    for file in "$stopped" "$scratch/best1.safetensors"; do
      best=$([ "$file" = "$stopped" ] && echo "$trained_best" || echo 1)
      if run "$scratch/early.predict" --model "$file" --idx "$images" --index 0 --device cpu; then
        said=$(cat "$scratch/early.predict.err")
        want="predict: '$file' is a checkpoint: it holds the weights of epoch $last, the last trained; early"
        want+=" stopping's best was epoch $best (the weights the run ends with and --save writes)"
        if [ "$best" -eq "$last" ] && [ -n "$said" ]; then
          fail "--model CHECKPOINT whose best epoch is its last says: $said"
        elif [ "$best" -ne "$last" ] && [ "$said" != "$want" ]; then
          fail "--model CHECKPOINT of best epoch $best, last $last says '$said', expected '$want'"
        else
          echo "ok: $name --model CHECKPOINT (last epoch $last, best $best): ${said:-nothing on stderr}"
        fi
      fi
    done
  fi
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
