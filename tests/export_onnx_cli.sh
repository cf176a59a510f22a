#!/usr/bin/env bash
# export_onnx, run as users run it, on a model that train_mlp trains briefly here: bad input ends with one line on
# stderr naming the problem and the right exit code (2: bad usage, 1: runtime failure), and leaves an earlier output
# file as it was; a weights file and a checkpoint are exported, again over an earlier file, and the program says what
# it wrote. ONNX Runtime running the files is tests/onnx_runtime.sh's part.
# Usage: export_onnx_cli.sh EXPORT_ONNX TRAIN_MLP   (exit 77: skipped, no data set)
set -u
export_onnx=$1
train_mlp=$2
name=$(basename "$export_onnx")
program=$export_onnx
source "$(dirname "$0")/cli_support.sh"
data=$(fashion_mnist_or_skip) || exit 77
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

model=$scratch/model.safetensors
checkpoint=$scratch/checkpoint.safetensors
if ! "$train_mlp" --device cpu --threads 1 --epochs 1 --steps-per-epoch 5 --data "$data" --save "$model" \
    --checkpoint "$checkpoint" >"$scratch/train.out" 2>"$scratch/train.err"; then
  fail "(the model) $train_mlp --save $model failed: $(cat "$scratch/train.err")"
  echo "$failures failure(s)"
  exit 1
fi

# Bad usage, each refused before the model is read.
expect 2 "--model is required" --output "$scratch/m.onnx"
expect 2 "--output is required" --model "$model"
expect 2 "--output: file '.*m.txt' must end in .onnx" --model "$model" --output "$scratch/m.txt"
expect 2 "--model: no file '.*absent.safetensors'" --model "$scratch/absent.safetensors" --output "$scratch/m.onnx"
expect 2 "--output: file '.*missing/m.onnx': cannot write into '.*missing/'" --model "$model" \
  --output "$scratch/missing/m.onnx"
mkdir "$scratch/folder.onnx"
expect 2 "--output: file '.*folder.onnx' exists and is not a regular file" --model "$model" --output "$scratch/folder.onnx"
expect 2 "--model is an empty path" --model "" --output "$scratch/m.onnx"
cp "$model" "$scratch/model.onnx"
expect 2 "--output would replace the file '.*model.onnx' that --model reads" --model "$scratch/model.onnx" \
  --output "$scratch/./model.onnx"

# A file that is not a model: a runtime failure, and the earlier output untouched.
echo "an earlier export" >"$scratch/kept.onnx"
echo "not a model" >"$scratch/text.safetensors"
expect 1 "text.safetensors" --model "$scratch/text.safetensors" --output "$scratch/kept.onnx"
if [ "$(cat "$scratch/kept.onnx")" != "an earlier export" ]; then
  fail "a failed export changed the earlier output file"
fi
if ls "$scratch" | grep -q '\.tmp\.'; then
  fail "a failed export left a temporary file: $(ls "$scratch")"
fi

# Weights and checkpoint, each over an earlier file.
for input in "$model" "$checkpoint"; do
  out=$scratch/kept.onnx
  if ! said=$("$export_onnx" --model "$input" --output "$out" 2>"$scratch/export.err"); then
    fail "--model $input failed: $(cat "$scratch/export.err")"
  elif [ -s "$scratch/export.err" ]; then
    fail "--model $input said on stderr: $(cat "$scratch/export.err")"
  elif [ "$said" != "wrote '$out': input 'images' float [N, 28, 28] (pixels / 255), output 'probabilities' float [N, 10], ONNX opset 17" ]; then
    fail "--model $input printed: $said"
  elif [ "$(head -c 20 "$out")" = "an earlier export" ] || [ "$(stat -c %s "$out")" -lt 400000 ]; then
    fail "--model $input: '$out' does not hold the model's 101,770 weights ($(stat -c %s "$out") bytes)"
  else
    echo "ok: $name --model $(basename "$input"): $said"
  fi
done

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
