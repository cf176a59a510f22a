#!/usr/bin/env bash
# Builds loom's fuzz targets with clang (ASan, UBSan, libFuzzer), writes their seed files and runs each target for
# SECONDS, one after the other. Prints per target the executions libFuzzer made; exits 1 if any target found
# something (a crash, a sanitizer report, a leak, an input slower than the per-input timeout, memory beyond the
# limit), naming the target, its reproducer and its log.
#
#   fuzz/run_fuzzers.sh SECONDS [BUILD_DIR]          (BUILD_DIR: default build-fuzz in the repository)
#
# Environment: FUZZ_TARGETS (default "idx safetensors checkpoint model_file history picture"), FUZZ_TIMEOUT (seconds
# per input, default 10), FUZZ_RSS_LIMIT_MB (default 2048), FASHION_MNIST_DIR (a real data file among the IDX seeds;
# default /usr/share/datasets/fashion-mnist), CXX (default clang++), FUZZ_JOBS (build jobs, default nproc).
# Each target keeps its corpus in BUILD_DIR/corpus/<target> from run to run; the seeds are made afresh each time.
set -euo pipefail

usage() { echo "usage: fuzz/run_fuzzers.sh SECONDS [BUILD_DIR]" >&2; exit 2; }
die() { echo "run_fuzzers.sh: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || usage
seconds=$1
if ! [[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]]; then
  echo "run_fuzzers.sh: SECONDS must be a positive integer, not '$seconds'" >&2
  usage
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${2:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-idx safetensors checkpoint model_file history picture}
timeout=${FUZZ_TIMEOUT:-10}
rss_limit=${FUZZ_RSS_LIMIT_MB:-2048}
data_dir=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
cxx=${CXX:-clang++}
jobs=${FUZZ_JOBS:-$(nproc)}

command -v cmake >/dev/null || die "cmake not found (Debian: apt-get install cmake)"
command -v "$cxx" >/dev/null ||
  die "$cxx not found: the fuzzers need clang with libFuzzer (Debian: apt-get install clang)"
"$cxx" --version 2>/dev/null | grep -qi clang || die "$cxx is not clang: libFuzzer comes with clang (set CXX=clang++)"
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' > "$probe/probe.cpp"
"$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" > "$probe/log" 2>&1 ||
  die "$cxx cannot link -fsanitize=fuzzer,address,undefined: libFuzzer or the sanitizer runtimes are missing" \
      "(Debian: libclang-rt-dev or libclang-common-<version>-dev): $(head -c 300 "$probe/log" | tr '\n' ' ')"

start=$(date +%s)
mkdir -p "$build"
echo "== configure and build ($build/build.log)"
if ! { cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" &&
       cmake --build "$build" -j"$jobs"; } > "$build/build.log" 2>&1; then
  tail -n 30 "$build/build.log" >&2
  die "the build failed; see $build/build.log"
fi
echo "== seeds"
seed_args=("$build/seeds")
[[ -d $data_dir ]] && seed_args+=("$data_dir")
if ! "$build/make_seeds" "${seed_args[@]}" > "$build/seeds.log" 2>&1; then
  cat "$build/seeds.log" >&2
  die "make_seeds failed"
fi
echo "configure + build + seeds: $(( $(date +%s) - start )) s"

dict_for() {
  case $1 in
    idx) ;;
    picture) echo "-dict=$root/fuzz/png.dict" ;;
    *) echo "-dict=$root/fuzz/json.dict" ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
for target in $targets; do
  binary=$build/fuzz_$target
  [[ -x $binary ]] ||
    die "no fuzz target '$target' ($binary); the targets: idx safetensors checkpoint model_file history picture"
  corpus=$build/corpus/$target
  artifacts=$build/artifacts/$target
  log=$build/logs/$target.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  rm -f "$artifacts"/*
  echo "== fuzz_$target for $seconds s ($log)"
  status=0
  # shellcheck disable=SC2046  # dict_for says nothing or one word
  nice -n 10 "$binary" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb="$rss_limit" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" $(dict_for "$target") "$corpus" "$build/seeds/$target" \
    > "$log" 2>&1 || status=$?
  done_line=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -n 1 || true)
  coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n 1 || true)
  reproducer=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \
    -o -name 'death-*' \) 2>/dev/null | head -n 1)
  if [[ $status -ne 0 || -n $reproducer || -z $done_line ]]; then
    pattern='^(==[0-9]+== ?ERROR|SUMMARY|.*runtime error:|loom fuzz finding:|terminate called)'
    finding=$(grep -m 1 -E "$pattern" "$log" || true)
    first=$(grep -n -m 1 -E "$pattern" "$log" | cut -d: -f1 || true)
    echo "FAILED fuzz_$target (exit status $status): ${finding:-no 'Done' line; see the log}"
    echo "  reproducer: ${reproducer:-none written}"
    echo "  log: $log"
    [[ -n $reproducer ]] && echo "  rerun: $binary $reproducer"
    if [[ -n $first ]]; then sed -n "${first},$((first + 39))p" "$log"; else tail -n 40 "$log"; fi | sed 's/^/  | /'
    failed+=("$target")
  else
    runs=$(awk '{print $2}' <<< "$done_line")
    secs=$(awk '{print $5}' <<< "$done_line")
    echo "fuzz_$target: $runs executions in $secs s ($(( runs / (secs > 0 ? secs : 1) )) exec/s), $coverage"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "run_fuzzers.sh: findings in: ${failed[*]} (reproducers under $build/artifacts)" >&2
  exit 1
fi
echo "run_fuzzers.sh: no findings in: $targets"
