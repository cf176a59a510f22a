#!/usr/bin/env bash
# pip_install_check.sh [SOURCE_DIR]: the Python package as users install it. In a new virtual environment, `pip
# install SOURCE_DIR` (PyPI gives the build its scikit-build-core and pybind11, and the package NumPy), then, from
# outside the source tree, every tutorial example for one epoch with the installed package. One line per step; exit 1
# on any failure, with the end of its log.
set -euo pipefail
source_dir=$(cd "${1:-$(dirname "$0")/..}" && pwd)
say() { echo "pip_install_check: $*"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

start=$SECONDS
if ! python3 -m venv "$work/env" >"$work/venv.log" 2>&1; then
  tail -n 5 "$work/venv.log"
  say "FAIL: python3 -m venv (apt-get install python3-venv)"
  exit 1
fi
if ! "$work/env/bin/pip" install -q "$source_dir" >"$work/pip.log" 2>&1; then
  tail -n 40 "$work/pip.log"
  say "FAIL: pip install $source_dir"
  exit 1
fi
say "pip install took $((SECONDS - start)) s"

cd "$work"
for example in "$source_dir"/examples/python/*.py; do
  start=$SECONDS
  if ! LOOM_EXAMPLE_EPOCHS=1 "$work/env/bin/python" "$example" >"$work/example.log" 2>&1 ||
    ! grep -q "Epoch 1/1" "$work/example.log"; then
    tail -n 30 "$work/example.log"
    say "FAIL: $(basename "$example") with the installed package"
    exit 1
  fi
  say "$(basename "$example") ran with the installed package in $((SECONDS - start)) s"
done
