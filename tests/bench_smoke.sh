#!/usr/bin/env bash
# The benchmark programs must run, validate their training, and write well-formed results; bad flags must be
# refused. Nothing here looks at how fast anything is.
# Usage: bench_smoke.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
source=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Any Python 3 reads JSON; PyTorch may live only in the system one (Debian's python3-torch).
python=python3
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c "import torch" 2>/dev/null; then python=$candidate; break; fi
done

check_json() {  # check_json FILE KEY...
  local file=$1
  shift
  "$python" - "$file" "$@" <<'PY' || fail "$file lacks fields: $*"
import json, sys
data = json.load(open(sys.argv[1]))
rows = data if isinstance(data, list) else [data]
for row in rows:
    if "skipped" in row:
        continue
    missing = [k for k in sys.argv[2:] if k not in row]
    assert not missing, missing
    assert row["ms_per_epoch_median"] > 0 if "ms_per_epoch_median" in row else True
PY
}

"$build/benchmarks/bench_epoch" --device cpu --model mlp --epochs 2 --max-steps 40 --json "$out/mlp.json" >/dev/null \
  || fail "bench_epoch mlp"
check_json "$out/mlp.json" ms_per_epoch_median us_per_step images_per_s flops_per_step achieved_tflops validation epoch_ms
"$build/benchmarks/bench_epoch" --device cpu --model cnn --epochs 1 --max-steps 20 --json "$out/cnn.json" >/dev/null \
  || fail "bench_epoch cnn"
check_json "$out/cnn.json" ms_per_epoch_median flops_per_step validation
# Timed epochs do no per-step host work unless asked: the NaN guard is off, as in the PyTorch reference.
"$build/benchmarks/bench_epoch" --device cpu --model mlp --epochs 1 --max-steps 20 --nan-guard --json "$out/guard.json" \
  >/dev/null || fail "bench_epoch --nan-guard"
"$python" - "$out/mlp.json" "$out/guard.json" <<'PY' || fail "bench_epoch: nan_guard is not what the flag says"
import json, sys
assert json.load(open(sys.argv[1]))["nan_guard"] is False, "without --nan-guard"
assert json.load(open(sys.argv[2]))["nan_guard"] is True, "with --nan-guard"
PY
# Adam's one-thread advance is timed apart from its update, and only the update is held against a bytes floor.
"$build/benchmarks/bench_kernels" --device cpu --repeats 2 --rounds 1 --bandwidth-gbs 100 --json "$out/kernels.json" \
  >/dev/null || fail "bench_kernels"
[ -s "$out/kernels.json" ] || fail "bench_kernels wrote no JSON"
"$python" - "$out/kernels.json" <<'PY' || fail "bench_kernels: Adam's two kernels are not reported apart"
import json, sys
rows = {row["kernel"]: row for row in json.load(open(sys.argv[1]))["kernels"]}
assert "floor_us" not in rows["adam_advance"], "a one-thread launch has no bytes floor"
assert rows["adam_update"]["floor_us"] > 0 and rows["adam_update"]["bytes"] == 28 * 243786
assert all("floor_us" in row for name, row in rows.items() if name != "adam_advance")
PY

# device_info reports (exit 0) with or without a GPU; without one it says why, and it names every library's version.
"$build/benchmarks/device_info" --json "$out/device.json" >"$out/device.out" || fail "device_info"
"$python" - "$out/device.json" "$out/device.out" <<'PY' || fail "device_info: JSON lacks fields or differs from stdout"
import json, sys
d = json.load(open(sys.argv[1]))
assert d == json.load(open(sys.argv[2])), "stdout and --json differ"
for key in ("gpu_usable", "reason", "gpu_name", "compute_capability", "driver_cuda_version", "cuda_runtime",
            "cublas", "cublasLt", "cudnn", "mismatches"):
    assert key in d, key
assert d["gpu_usable"] or d["reason"], "no GPU and no reason"
for lib in ("cublas", "cublasLt", "cudnn"):
    assert "compiled" in d[lib] and ("loaded" in d[lib] or "error" in d[lib]), lib
assert "built_for_cuda" in d["cudnn"] or "error" in d["cudnn"]
PY
"$build/benchmarks/device_info" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "device_info --bogus: expected exit 2"

# On the CUDA simulator (a build with LOOM_CUDA=SIM) the CUDA device is the CPU: timing it as a GPU is refused, and
# --device auto times the CPU, saying so.
if "$python" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["simulated"] else 1)' "$out/device.json"
then
  for bench in bench_epoch bench_kernels; do
    "$build/benchmarks/$bench" --device cuda --json "$out/none.json" >/dev/null 2>"$out/err"
    status=$?
    if [ $status -ne 2 ] || ! grep -q "its times are not a GPU's" "$out/err"; then
      fail "$bench --device cuda on the simulator: expected exit 2 saying why, got $status: $(cat "$out/err")"
    fi
  done
  "$build/benchmarks/bench_epoch" --device auto --model mlp --epochs 1 --max-steps 20 --json "$out/auto.json" \
    >/dev/null 2>"$out/err" || fail "bench_epoch --device auto on the simulator: $(cat "$out/err")"
  grep -q "timing the CPU instead" "$out/err" || fail "bench_epoch --device auto on the simulator did not say so"
fi

"$build/benchmarks/bench_epoch" --model resnet --device cpu --json "$out/none.json" >/dev/null 2>"$out/err"
if [ $? -ne 2 ] || ! grep -q "resnet" "$out/err"; then fail "bench_epoch --model resnet: expected exit 2 naming it"; fi
"$build/benchmarks/bench_epoch" --device cpu --data "$out/nowhere" --json "$out/none.json" >/dev/null 2>"$out/err"
if [ $? -ne 2 ] || ! grep -q "dataset-fashion-mnist" "$out/err"; then
  fail "bench_epoch with no data: expected exit 2"
fi
"$build/benchmarks/bench_epoch" --device cpu --epochs ten --json "$out/none.json" >/dev/null 2>"$out/err"
[ $? -eq 2 ] || fail "bench_epoch --epochs ten: expected exit 2"
"$build/benchmarks/bench_kernels" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "bench_kernels --bogus: expected exit 2"
# bench_epoch offers only the training flags it honours: the others would be accepted and ignored.
for flag in "--validation-split 0.1" "--validation-data test" --no-shuffle "--stop-at-loss 0.5" "--early-stopping 2" "--lr-schedule step" \
  "--random-shift 2" --random-flip "--history $out/h.csv" "--save $out/s.safetensors" \
  "--checkpoint $out/c.safetensors" "--resume $out/c.safetensors" "--load $out/s.safetensors" "--report $out/r.html"; do
  # shellcheck disable=SC2086  # the flag and its value, split on purpose
  "$build/benchmarks/bench_epoch" --device cpu $flag --json "$out/none.json" >/dev/null 2>"$out/err"
  if [ $? -ne 2 ] || [ "$(wc -l <"$out/err")" -ne 1 ]; then fail "bench_epoch $flag: expected exit 2 and one line"; fi
  "$build/benchmarks/bench_epoch" --help | grep -q -- "${flag%% *}" && fail "bench_epoch --help lists ${flag%% *}"
done
ls "$out"/[hscr].* >/dev/null 2>&1 && fail "a refused flag's file was written"
# --steps-per-epoch, the training apps' name for --max-steps, limits the timed steps too.
"$build/benchmarks/bench_epoch" --device cpu --model mlp --epochs 1 --steps-per-epoch 20 --json "$out/steps.json" \
  >/dev/null || fail "bench_epoch --steps-per-epoch"
"$python" - "$out/steps.json" <<'PY' || fail "bench_epoch --steps-per-epoch 20 did not time 20 steps an epoch"
import json, sys
assert json.load(open(sys.argv[1]))["steps_per_epoch"] == 20
PY
"$build/benchmarks/bench_epoch" --device cpu --steps-per-epoch 20 --max-steps 30 --json "$out/none.json" \
  >/dev/null 2>"$out/err"
[ $? -eq 2 ] || fail "bench_epoch --steps-per-epoch with --max-steps: expected exit 2"
ls "$out"/none.json* >/dev/null 2>&1 && fail "a failed run left a JSON file"

# --json is written by engine/io's writer, as every loom output file. A special file is refused before anything runs
# and stays what it was: a FIFO, and a device node of the test's own (a copy of /dev/null's numbers) where it may
# make one, never the machine's /dev.
mkfifo "$out/pipe" || fail "mkfifo"
special=(pipe)
if mknod "$out/nul" c 1 3 2>/dev/null; then
  special+=(nul)
else
  echo "SKIPPED: cannot create a device node here (needs root); --json on a character device not run"
fi
for name in "${special[@]}"; do
  for bench in bench_epoch bench_kernels; do
    timeout 20 "$build/benchmarks/$bench" --device cpu --json "$out/$name" >/dev/null 2>"$out/err"
    status=$?
    if [ $status -ne 2 ] || [ "$(wc -l <"$out/err")" -ne 1 ] || ! grep -q "is not a regular file" "$out/err"; then
      fail "$bench --json $name: expected exit 2 and one line, got $status: $(cat "$out/err")"
    fi
  done
done
[ -p "$out/pipe" ] || fail "--json on a FIFO replaced it"
if [ -e "$out/nul" ] && [ ! -c "$out/nul" ]; then fail "--json on a character device replaced it"; fi
# A write that fails at the end (a file-size limit of 0 stops it as a full disk would, for root too): exit 1, one
# line, no file, not even an empty one. The message comes back through a pipe, which the limit does not apply to.
err=$( (
  trap '' XFSZ
  ulimit -f 0
  exec "$build/benchmarks/bench_epoch" --device cpu --model mlp --epochs 1 --max-steps 20 --json "$out/full.json"
) 2>&1 >/dev/null)
status=$?
if [ $status -ne 1 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] ||
  [[ "$err" != *"cannot write '$out/full.json': File too large"* ]]; then
  fail "bench_epoch --json on a full disk: expected exit 1 and one line, got $status: $err"
fi
ls "$out"/full.json* >/dev/null 2>&1 && fail "a failed write left a JSON file"

if "$python" -c "import torch" 2>/dev/null; then
  "$python" "$source/benchmarks/pytorch_reference.py" --device cpu --model both --mode both --epochs 1 \
    --max-steps 20 --json "$out/torch.json" >/dev/null || fail "pytorch_reference.py"
  check_json "$out/torch.json" ms_per_epoch_median us_per_step validation
  "$python" "$source/benchmarks/pytorch_reference.py" --data "$out/nowhere" >/dev/null 2>"$out/err"
  if [ $? -ne 2 ] || ! grep -q "dataset-fashion-mnist" "$out/err"; then
    fail "pytorch_reference.py with no data: expected exit 2"
  fi
  "$python" "$source/benchmarks/compare.py" --build-dir "$build" --device cpu --models mlp --epochs 1 \
    --max-steps 20 --python "$python" --json "$out/compare.json" >"$out/table" 2>/dev/null || fail "compare.py"
  grep -q "eager/loom" "$out/table" || fail "compare.py printed no table"
else
  echo "SKIPPED: PyTorch not installed; pytorch_reference.py and compare.py not run (apt-get install python3-torch)"
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
