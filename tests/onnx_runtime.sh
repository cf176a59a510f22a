#!/usr/bin/env bash
# Models loom trains run in ONNX Runtime as in loom: the tutorial MLP, the tutorial CNN and `train_cnn --preset best`
# (every layer class the programs train: Flatten, Dense, Conv2D, MaxPooling2D, BatchNormalization, ReLU, Dropout and
# the softmaxes), each trained briefly here, exported by export_onnx and run by docs/onnx_runtime.py on the 10,000
# test images, which must pass ONNX's full check and agree with `predict --data`: the same class for every image and
# every probability within 1e-5; the ONNX file's weights must be the saved ones (the MLP's also exported from its
# checkpoint).
# Usage: onnx_runtime.sh BUILD_DIR SOURCE_DIR   (exit 77: skipped, no ONNX Runtime/onnx/safetensors or no data set)
set -u
build=$1
source=$2
source "$(dirname "$0")/cli_support.sh"

# The virtual environment `scripts/install-dependencies.sh --all` makes for this test, then any Python that has them.
python=${XDG_CACHE_HOME:-$HOME/.cache}/loom/onnx-python/bin/python
modules="onnxruntime onnx numpy safetensors"
"$python" -c "import ${modules// /, }" 2>/dev/null || python=$(find_python $modules)
if [ -z "$python" ]; then
  echo "SKIPPED: no Python with onnxruntime, onnx, numpy and safetensors (scripts/install-dependencies.sh --all," \
    "or pip install onnxruntime onnx safetensors)"
  exit 77
fi
data=$(fashion_mnist_or_skip) || exit 77

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out" || exit 1

# agreement RUN INPUTS TRAINER ARGS...: train, export INPUTS (weights, or weights and checkpoint), predict, and run
# each export in ONNX Runtime. The programs use every core: ctest runs this test alone in the README's command.
agreement() {
  local run=$1 inputs=$2 trainer=$3
  shift 3
  local start=$SECONDS files=("$run")
  [ "$inputs" = weights ] || files+=("$run.checkpoint")
  if ! "$build/apps/$trainer" --device cpu --epochs 1 --data "$data" --save "$run.safetensors" \
       --checkpoint "$run.checkpoint.safetensors" "$@" >"$run.train" 2>&1; then
    fail "$trainer --save $run.safetensors${*:+ $*}: $(tail -n 1 "$run.train")"
    return
  fi
  for input in "${files[@]/%/.safetensors}"; do
    if ! "$build/apps/export_onnx" --model "$input" --output "${input%.safetensors}.onnx" >"$run.export" 2>&1; then
      fail "export_onnx --model $input: $(cat "$run.export")"
      return
    fi
  done
  if ! "$build/apps/predict" --device cpu --model "$run.safetensors" --data "$data" \
       --output "$run.csv" >"$run.predict" 2>&1; then
    fail "predict --model $run.safetensors: $(tail -n 1 "$run.predict")"
    return
  fi
  for input in "${files[@]}"; do
    if ! "$python" "$source/docs/onnx_runtime.py" "$input.onnx" --data "$data" --compare "$run.csv" \
         --weights "$input.safetensors" >"$input.ort" 2>&1; then
      fail "onnx_runtime.py $input.onnx: $(tail -n 1 "$input.ort")"
      return
    fi
  done
  sed "s/^/$run: /" "$run.ort"
  echo "ok: $run ($trainer${*:+ $*}) agrees with ONNX Runtime, $((SECONDS - start)) s"
}

agreement mlp "weights and checkpoint" train_mlp
agreement cnn weights train_cnn --steps-per-epoch 200
agreement best weights train_cnn --preset best --steps-per-epoch 400

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
