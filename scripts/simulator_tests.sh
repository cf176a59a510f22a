#!/usr/bin/env bash
# simulator_tests.sh [BUILD_ROOT]: the CUDA simulator flavour (-DLOOM_CUDA=SIM, docs/SIMULATOR.md) checked as CI
# checks it; prints how long each part took and fails on any failed test, finding or uncaught planted bug.
#   1. plain: a Release build, and the whole suite under LOOM_REQUIRE_CUDA=1 (no test may skip for want of a GPU)
#      but the tests labelled interop, which run the programs with --device cpu to compare them with PyTorch and ONNX
#      Runtime: the simulator adds nothing to them (the README's run runs them);
#   2. planted bugs: scripts/simulator_mutations.py on that build (each must be caught);
#   3. AddressSanitizer and UndefinedBehaviorSanitizer: the CUDA tests and the simulator's own (the CPU tests run under
#      the same sanitizers in scripts/sanitized_tests.sh), in a Debug build with the CPU ops at -O2;
#   4. ThreadSanitizer: the parity tests of the kernels whose threads synchronize (small grids: TSan costs about a
#      millisecond a CUDA thread) and the simulator's kernel tests, where every CUDA thread is a TSan fiber and a race
#      between two of them fails.
# The builds go to BUILD_ROOT/build-sim, build-sim-asan and build-sim-tsan (default BUILD_ROOT: the repository).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$source_dir}
jobs=$(nproc)
failed=0

elapsed() { echo "$((SECONDS - $1)) s"; }
total_start=$SECONDS
say() { echo "simulator_tests: $*"; }

# build DIR TARGET... -- CMAKE_ARGS...: configures and builds quietly, showing the log's end on failure.
build() {
  local dir=$1 start=$SECONDS targets=()
  shift
  while [ "$1" != "--" ]; do targets+=(--target "$1"); shift; done
  shift
  cmake -S "$source_dir" -B "$dir" -DLOOM_CUDA=SIM "$@" >/dev/null
  if ! cmake --build "$dir" -j"$jobs" "${targets[@]}" >"$dir/build.log" 2>&1; then
    tail -n 60 "$dir/build.log"
    say "FAIL: the build in $dir failed (log: $dir/build.log)"
    exit 1
  fi
  say "built $dir in $(elapsed "$start")"
}

# The CUDA tests as gtest names them (tests/CMakeLists.txt writes the list it labels gpu) and the simulator's own.
cuda_tests() { echo "$(cat "$1/tests/gpu_tests_filter.txt"):Simulat*"; }

# --- 1. plain ------------------------------------------------------------------------------------------------------
build "$root/build-sim" -- -DCMAKE_BUILD_TYPE=Release
start=$SECONDS
if ctest --test-dir "$root/build-sim" -j"$jobs" -LE interop --output-on-failure >"$root/build-sim/ctest.log" 2>&1; then
  say "the whole suite but the interop tests passed on the simulator in $(elapsed "$start"): $(grep -E 'tests passed' "$root/build-sim/ctest.log")"
else
  tail -n 80 "$root/build-sim/ctest.log"
  say "FAIL: the suite on the simulator (log: $root/build-sim/ctest.log)"
  failed=1
fi

# --- 2. planted bugs -----------------------------------------------------------------------------------------------
start=$SECONDS
if python3 "$source_dir/scripts/simulator_mutations.py" "$root/build-sim"; then
  say "every planted bug caught in $(elapsed "$start")"
else
  say "FAIL: scripts/simulator_mutations.py"
  failed=1
fi

# A sanitizer's finding aborts the program after its report (as in scripts/sanitized_tests.sh).
findings='ERROR: [A-Za-z]*Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer|WARNING: ThreadSanitizer'
# run_tests NAME BUILD FILTER: BUILD's loom_tests on the tests FILTER names, one shard per core side by side (one
# CPU thread each by default, OMP_NUM_THREADS=1: the shards fill the cores), failing on a failed test or a finding; logs BUILD/tests.<shard>.log.
run_tests() {
  local name=$1 dir=$2 filter=$3 start=$SECONDS shard pids=() passed=0 ok=1
  for ((shard = 0; shard < jobs; shard++)); do
    LOOM_REQUIRE_CUDA=1 OMP_NUM_THREADS=1 GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$shard \
      "$dir/tests/loom_tests" --gtest_brief=1 --gtest_filter="$filter" >"$dir/tests.$shard.log" 2>&1 &
    pids+=($!)
  done
  for ((shard = 0; shard < jobs; shard++)); do
    local log=$dir/tests.$shard.log
    if ! wait "${pids[$shard]}" || grep -Eq "$findings" "$log"; then
      tail -n 80 "$log"
      say "FAIL: $name, shard $shard of $jobs (log: $log)"
      ok=0
    fi
    local count
    count=$(awk '$1 == "[" && $2 == "PASSED" && $3 == "]" { print $4 }' "$log" | head -n 1)
    passed=$((passed + ${count:-0}))
  done
  if [ "$ok" -eq 1 ]; then say "$name: $passed passed in $(elapsed "$start")"; else failed=1; fi
}

# --- 3. AddressSanitizer and UndefinedBehaviorSanitizer --------------------------------------------------------------
build "$root/build-sim-asan" loom_tests -- -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
  -DLOOM_SANITIZE='address;undefined;float-cast-overflow' -DLOOM_CPU_OPS_FLAGS=-O2 -DLOOM_BUILD_BENCHMARKS=OFF \
  -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="abort_on_error=1:halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
run_tests "the CUDA tests under ASan and UBSan" "$root/build-sim-asan" "$(cuda_tests "$root/build-sim-asan")"

# --- 4. ThreadSanitizer --------------------------------------------------------------------------------------------
# The CPU ops are left uninstrumented: their AVX2 clones choose their code in an ifunc resolver, which runs before
# TSan's runtime is ready; TSan looks at the kernels here, and at the CPU pool the CPU ops run on (its own tests,
# whose chunks are instrumented).
build "$root/build-sim-tsan" loom_tests -- -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" \
  -DLOOM_SANITIZE=thread "-DLOOM_CPU_OPS_FLAGS=-O2;-fno-sanitize=thread" -DLOOM_BUILD_BENCHMARKS=OFF \
  -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST
export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
# The kernels whose threads meet (warp shuffles, a barrier) and one elementwise kernel, at the tests' sizes (about
# 100 s of TSan in all; the larger parity grids would take tens of minutes); and the simulator's kernel tests but
# the death tests (they fork, which TSan dislikes; their checks fire in the plain and ASan runs) and the one whose
# kernel races on purpose (TSan rightly reports it). Then the CPU pool's tests.
run_tests "the synchronizing kernels' parity tests and the CPU pool under TSan" "$root/build-sim-tsan" \
  'OpParity/cuda.Softmax*:OpParity/cuda.CrossEntropyOnProbabilities:OpParity/cuda.Relu:ConvParity/cuda.BiasGradientOverManyRows:SimulatorKernels.*:CpuPool.*-*DeathTest*:*ThreadOrderExposesAMissingBarrier'

say "$([ "$failed" -eq 0 ] && echo passed || echo FAILED) in $(elapsed "$total_start") in all"
exit "$failed"
