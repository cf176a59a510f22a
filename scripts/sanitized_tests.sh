#!/usr/bin/env bash
# sanitized_tests.sh [BUILD_DIR]: builds the CPU test suite with AddressSanitizer (LeakSanitizer included) and
# UndefinedBehaviorSanitizer, runs it, and fails on any finding or failed test; prints how long each part took.
# BUILD_DIR defaults to build-sanitize (git ignores build-*/).
#
# It is also the check of loom's CPU-only flavour: it configures with -DLOOM_CUDA=OFF and, run as root, re-runs itself
# in a mount namespace where /usr/local (where the CUDA toolkit, cuBLAS and cuDNN live) is an empty tmpfs, so that
# the build proves it needs none of them. Run by hand without root it says it could not hide the toolkit and builds
# the same flavour beside it. Every CUDA test skips, saying the build has no CUDA path.
#
# What runs, and why not everything (ctest under the sanitizers: 21 minutes on 2 cores, two tests cut off at their
# 10-minute limit):
#   - loom_tests, every test but EndToEnd.*, in one process per core rather than one per test as ctest does: a
#     sanitized process takes about 0.5 s to start and check for leaks, 3 minutes of CPU over the ~340 tests;
#   - a smoke run of the apps (train_mlp, predict, report, export_onnx) on a few thousand real images: each happy path
#     once (save, checkpoint, resume, history, both kinds of report, predict on one image and on the test set, an ONNX
#     export) and both error exits (2: usage, 1: a damaged file).
#   Not run, because they train on the whole data set to check accuracy and take minutes each under the sanitizers:
#   EndToEnd.* (the smoke run trains on real data through the same fit) and ctest's script tests (app_cli_*,
#   predict_cli, report_cli, pytorch_interop: over ten minutes each; onnx_runtime, export_onnx_cli; they check exit
#   codes, messages, accuracy and agreement, which the Release run in CI checks). GTEST_FILTER replaces the filter (GTEST_FILTER='*' runs every test).
#
# The build: -O0 (compiles in half the time of -O1; the sanitizers check unoptimized code as well) with line tables
# only (-g1: file:line in every report), except the CPU reference ops at -O2, where training spends its time
# (LOOM_CPU_OPS_FLAGS).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)

# Hide the CUDA toolkit: once (LOOM_NO_CUDA_NAMESPACE marks the re-run), and only where a mount namespace can be made.
hide=(unshare --mount sh -c 'mount -t tmpfs none /usr/local && exec "$@"' sh)
if [ -z "${LOOM_NO_CUDA_NAMESPACE:-}" ]; then
  if [ "$(id -u)" -eq 0 ] && "${hide[@]}" true 2>/dev/null; then
    LOOM_NO_CUDA_NAMESPACE=1 exec "${hide[@]}" bash "$0" "$@"
  fi
  echo "sanitized_tests: could not hide the CUDA toolkit (/usr/local; needs root and unshare): building the CPU-only" \
    "flavour (-DLOOM_CUDA=OFF) beside it"
else
  echo "sanitized_tests: /usr/local hidden (no CUDA toolkit): building the CPU-only flavour (-DLOOM_CUDA=OFF)"
fi

build=${1:-$source_dir/build-sanitize}
jobs=$(nproc)
data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
sanitizers='address;undefined;float-cast-overflow'  # float-cast-overflow: undefined, but not in GCC's 'undefined'
filter=${GTEST_FILTER:--EndToEnd.*}

elapsed() { echo "$((SECONDS - $1)) s"; }
total_start=$SECONDS

start=$SECONDS
cmake -S "$source_dir" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
  -DLOOM_CUDA=OFF -DLOOM_BUILD_BENCHMARKS=OFF -DLOOM_SANITIZE="$sanitizers" \
  -DLOOM_CPU_OPS_FLAGS=-O2 -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST >/dev/null
echo "sanitized_tests: configured in $(elapsed "$start")"
start=$SECONDS
cmake --build "$build" -j"$jobs" --target loom_tests train_mlp predict report export_onnx >"$build/build.log" 2>&1 ||
  { tail -n 60 "$build/build.log"; echo "sanitized_tests: FAIL: the build failed (log: $build/build.log)"; exit 1; }
echo "sanitized_tests: built loom_tests and the apps in $(elapsed "$start")"

# A finding aborts the program (exit 134, never the apps' 1 or 2) after printing its report.
#   detect_stack_use_after_return, check_initialization_order/strict_init_order, strict_string_checks: checks that
#     are off by default and cheap here.
#   LSan suppressions: scripts/lsan.supp says which and why (the NVIDIA driver's own allocations, never ours).
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1\
:check_initialization_order=1:strict_init_order=1:strict_string_checks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="abort_on_error=1:halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$source_dir/scripts/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
findings='ERROR: [A-Za-z]*Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer'
failed=0

# --- loom_tests: one shard per core, run side by side -------------------------------------------------------------
start=$SECONDS
pids=()
# One CPU thread each by default (OMP_NUM_THREADS=1, which loom's CPU pool reads): the shards already fill the
# cores. (Tests that set a thread count of their own still run the pool on it.)
for ((shard = 0; shard < jobs; shard++)); do
  OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard \
    "$build/tests/loom_tests" --gtest_brief=1 --gtest_filter="$filter" >"$build/loom_tests.$shard.log" 2>&1 &
  pids+=($!)
done
for ((shard = 0; shard < jobs; shard++)); do
  log=$build/loom_tests.$shard.log
  if ! wait "${pids[$shard]}" || grep -Eq "$findings" "$log"; then
    cat "$log"
    echo "sanitized_tests: FAIL: loom_tests shard $shard of $jobs (log: $log)"
    failed=1
  fi
done
count() {  # count PASSED|SKIPPED: the shards' totals, from gtest's summary lines "[  PASSED  ] 150 tests."
  cat "$build"/loom_tests.*.log |
    awk -v what="$1" '$1 == "[" && $2 == what && $3 == "]" { n += $4 } END { print n + 0 }'
}
echo "sanitized_tests: loom_tests: $(count PASSED) passed, $(count SKIPPED) skipped in $(elapsed "$start")"

# --- the apps ------------------------------------------------------------------------------------------------------
start=$SECONDS
smoke=$(mktemp -d)
trap 'rm -rf "$smoke"' EXIT
app() {  # app EXPECTED_STATUS PROGRAM ARGS...: runs build/apps/PROGRAM, fails on another status or on a finding
  local want=$1 name=$2 status=0
  shift 2
  "$build/apps/$name" "$@" >"$smoke/out" 2>"$smoke/err" || status=$?
  if [ "$status" -ne "$want" ] || grep -Eq "$findings" "$smoke/err"; then
    cat "$smoke/err"
    echo "sanitized_tests: FAIL: $name $* exited $status, expected $want"
    failed=1
  fi
}
if [ -f "$data/t10k-images-idx3-ubyte.gz" ]; then
  images=$data/t10k-images-idx3-ubyte.gz
  # 5% of the training set (3,000 images) trains; the rest validates, which is quick.
  mlp=(--device cpu --data "$data" --hidden 16 --validation-split 0.95 --history "$smoke/mlp.csv")
  app 0 train_mlp "${mlp[@]}" --epochs 1 --checkpoint "$smoke/mlp1.safetensors" --report "$smoke/mlp.html"
  app 0 train_mlp "${mlp[@]}" --epochs 2 --resume "$smoke/mlp1.safetensors" --checkpoint "$smoke/mlp2.safetensors" \
    --save "$smoke/mlp.safetensors"
  app 0 predict --device cpu --model "$smoke/mlp.safetensors" --idx "$images" --index 0
  app 0 predict --device cpu --model "$smoke/mlp2.safetensors" --data "$data" --output "$smoke/predictions.csv"
  app 0 report --run "$smoke/mlp2.safetensors" --run "$smoke/mlp.safetensors" "$smoke/mlp.csv" -o "$smoke/two.html"
  app 0 export_onnx --model "$smoke/mlp2.safetensors" --output "$smoke/mlp.onnx"
  app 2 train_mlp --device cpu --epochs 0
  echo "not a model" >"$smoke/text.safetensors"
  app 1 predict --device cpu --model "$smoke/text.safetensors" --idx "$images" --index 0
  echo "sanitized_tests: apps: smoke run in $(elapsed "$start")"
else
  echo "sanitized_tests: apps: smoke run skipped: Fashion-MNIST not found in $data"
fi

echo "sanitized_tests: $([ "$failed" -eq 0 ] && echo passed || echo FAILED) in $(elapsed "$total_start") in all"
exit "$failed"
