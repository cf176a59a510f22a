# What the command-line test scripts share; sourced, not run. The sourcing script sets `program` (the binary the
# `expect` checks run) and `name` (how failures name it) before calling them.
failures=0

fail() { echo "FAIL: ${name:+$name }$*"; failures=$((failures + 1)); }

# Filters out the line a build on the CUDA simulator (LOOM_CUDA=SIM) starts its stderr with once CUDA is first called,
# so that the rules below (one line, matching the message) hold in that flavour too.
without_simulator_banner() { sed '/^loom CUDA simulator: this build (LOOM_CUDA=SIM) runs CUDA code on the CPU/d'; }

# expect EXIT_CODE REGEX ARGS...: `program ARGS` must exit with EXIT_CODE and say one line on stderr matching REGEX.
expect() {
  local want=$1 pattern=$2
  shift 2
  local err rc
  err=$("$program" "$@" 2>&1 >"${expect_stdout:-/dev/null}")
  rc=$?
  err=$(without_simulator_banner <<<"$err")
  if [ "$rc" -ne "$want" ]; then
    fail "$* exited $rc, expected $want; stderr: $err"
  elif ! grep -Eq -- "$pattern" <<<"$err"; then
    fail "$*: stderr does not match '$pattern': $err"
  elif [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ]; then
    fail "$*: expected one line on stderr, got: $err"
  else
    echo "ok: $name $* -> $rc: $err"
  fi
}

# expect_silent EXIT_CODE REGEX ARGS...: as expect, and nothing may be printed on stdout first: the failure comes
# before the model summary, before anything is allocated or trained.
expect_silent() {
  local expect_stdout
  expect_stdout=$(mktemp)
  expect "$@"
  if [ -s "$expect_stdout" ]; then
    fail "${*:3}: printed on stdout before failing: $(head -c 200 "$expect_stdout")"
  fi
  rm -f "$expect_stdout"
}

# fashion_mnist_or_skip: prints the Fashion-MNIST directory the apps read ($FASHION_MNIST_DIR, then the Debian
# package's); when a file of the data set is missing there, says SKIPPED (on stderr) and returns 77, ctest's skip
# code, for the caller to exit with: data=$(fashion_mnist_or_skip) || exit 77
fashion_mnist_or_skip() {
  local data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist} f
  for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
    if [ ! -f "$data/$f" ]; then
      echo "SKIPPED: Fashion-MNIST not found in $data (apt-get install dataset-fashion-mnist, or set" \
        "FASHION_MNIST_DIR)" >&2
      return 77
    fi
  done
  echo "$data"
}

# tensor_bytes FILE: the tensors of a safetensors file, the bytes after its 8-byte header length and JSON header.
# Two saved models hold the same weights bit for bit exactly when these agree; the headers may differ in metadata
# (a resumed run's description names its --resume file).
tensor_bytes() { tail -c +$((9 + $(od -An -t u8 -N8 "$1" | tr -d ' '))) "$1"; }

# find_python MODULE...: prints the first Python 3 that imports every MODULE (Debian's python3-torch lives only in
# the system one, which another python3 on PATH may hide); prints nothing when none does.
find_python() {
  local imports candidate
  imports=$(IFS=,; echo "$*")
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c "import $imports" 2>/dev/null; then echo "$candidate"; return; fi
  done
}
