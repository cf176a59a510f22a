#!/usr/bin/env bash
# simulator_coverage.sh [BUILD_DIR]: how much of loom's CUDA path the suite executes on the CUDA simulator, by line
# (gcov, read through gcovr). Builds the simulator flavour with --coverage (default BUILD_DIR: build-sim-coverage),
# runs every GoogleTest test, then prints the line coverage of each CUDA-path file: the kernels (kernels/*_cuda.cu),
# the cuBLAS and cuDNN callers (kernels/*_cublas.cpp, *_cudnn.cpp), the runtime's CUDA files
# (engine/runtime/cuda_*), and a total for each group. A measurement, not a check: it fails only when it cannot
# build or measure. Needs gcovr (apt-get install gcovr).
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$source_dir/build-sim-coverage}
command -v gcovr >/dev/null || { echo "simulator_coverage: gcovr not found (apt-get install gcovr)" >&2; exit 2; }

cmake -S "$source_dir" -B "$build" -DLOOM_CUDA=SIM -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O0 --coverage" \
  -DCMAKE_EXE_LINKER_FLAGS=--coverage -DLOOM_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target loom_tests >"$build/build.log" 2>&1 ||
  { tail -n 40 "$build/build.log"; echo "simulator_coverage: the build failed" >&2; exit 1; }
find "$build" -name '*.gcda' -delete
# Every test, the death tests' children included; a failure here is reported, but coverage is still measured.
LOOM_REQUIRE_CUDA=1 "$build/tests/loom_tests" --gtest_brief=1 >"$build/tests.log" 2>&1 ||
  echo "simulator_coverage: some tests failed (log: $build/tests.log); coverage measured anyway"

# report NAME REGEX...: per-file and total line coverage of the files matching any REGEX (paths in the repository).
report() {
  local name=$1
  shift
  local filters=()
  for regex in "$@"; do filters+=(--filter "$source_dir/$regex"); done
  echo "== $name"
  gcovr --root "$source_dir" "${filters[@]}" --object-directory "$build" --txt 2>/dev/null |
    grep -E '^(kernels|engine|TOTAL)' | sed 's/^/  /'
}
report "kernels" 'kernels/[^/]*_cuda\.cu$'
report "cuBLAS and cuDNN callers" 'kernels/[^/]*_(cublas|cudnn)\.cpp$' 'kernels/cudnn_descriptors\.h$'
report "runtime" 'engine/runtime/cuda_[^/]*$'
