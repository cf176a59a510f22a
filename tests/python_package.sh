#!/usr/bin/env bash
# The Python package's pytest suite (tests/python/) on the build tree's package: PYTHONPATH=<build>/python, the C++
# programs beside it for the tests that compare with them, and the CPU unless a test asks for the GPU.
# Usage: python_package.sh PYTHON PACKAGE_DIR APPS_DIR TESTS_DIR   (exit 77: skipped, no pytest or NumPy)
set -u
python=$1 package=$2 apps=$3 tests=$4
if ! "$python" -c "import pytest, numpy" 2>/dev/null; then
  echo "SKIPPED: $python has no pytest or NumPy (scripts/install-dependencies.sh --all installs them)"
  exit 77
fi
export PYTHONPATH=$package${PYTHONPATH:+:$PYTHONPATH} LOOM_APPS_DIR=$apps LOOM_DEVICE=cpu PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -q -p no:cacheprovider -r s "$tests"
