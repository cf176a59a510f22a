#!/usr/bin/env bash
# Fails when a C++ or CUDA source differs from what clang-format makes of it (.clang-format at the top). Prints the
# files that differ; `scripts/check_format.sh --fix` rewrites them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
  echo "check_format: $CLANG_FORMAT not found: install clang-format (scripts/install-dependencies.sh --all)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files -- '*.h' '*.cpp' '*.cu' '*.cuh')
if [[ ${1:-} == --fix ]]; then
  "$CLANG_FORMAT" -i "${files[@]}"
  exit 0
fi
differ=()
for f in "${files[@]}"; do
  "$CLANG_FORMAT" --dry-run --Werror "$f" >/dev/null 2>&1 || differ+=("$f")
done
if ((${#differ[@]})); then
  printf 'check_format: %s differs from clang-format'"'"'s layout\n' "${differ[@]}" >&2
  echo "check_format: ${#differ[@]} of ${#files[@]} files differ; run scripts/check_format.sh --fix" >&2
  exit 1
fi
echo "check_format: all ${#files[@]} C++ and CUDA files match .clang-format ($("$CLANG_FORMAT" --version | head -1))"
