#!/usr/bin/env bash
# install-dependencies.sh [--all]: installs, from the distribution, what building loom and running its tests need
# and is missing, on Debian 12 / Ubuntu; with --all also the optional test tools CI uses (PyTorch, Python's
# safetensors, ONNX Runtime, Chromium, clang with libFuzzer, clang-format). Checks, but does not install, the CUDA toolkit and
# cuDNN 9, which come from NVIDIA (cuDNN is installed when NVIDIA's CUDA apt repository is already configured);
# without them loom builds its CPU path only, which the last line says. Quiet (one line) when nothing is missing;
# every failure is one line on stderr and exit status 1 (2 for a bad option).
set -euo pipefail

me=install-dependencies
say() { echo "$me: $*"; }
die() { echo "$me: $*" >&2; exit 1; }

# What the build and the tests need (python3: the benchmark smoke test reads the JSON it writes with Python;
# libopenblas-openmp-dev: OpenBLAS built with OpenMP, for the CPU path's products, each run on one of loom's threads;
# python3-dev, pybind11-dev, python3-numpy: the Python package's extension module and its arrays; python3-venv and
# python3-pip: `pip install .` into a virtual environment; libonnx-dev, libprotobuf-dev: the ONNX export's schema
# and protobuf).
required=(cmake g++ make zlib1g-dev libpng-dev libopenblas-openmp-dev libgtest-dev libcli11-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev dataset-fashion-mnist python3 python3-dev pybind11-dev python3-numpy python3-venv
  python3-pip)
# --all: the optional test tools (each test that needs one is skipped, saying so, without it).
# (libclang-rt-dev: libFuzzer's runtime, its own package in Debian 12; clang's common package holds it elsewhere;
# libomp-dev: clang's OpenMP, for the fuzz build of the CPU path; clang-format: CI's check of the sources' layout;
# python3-pytest: the Python package's tests.)
optional=(python3-torch python3-pytest chromium clang libclang-rt-dev libomp-dev clang-format)
all=0
for arg in "$@"; do
  case $arg in
    --all) all=1 ;;
    -h | --help)
      echo "usage: scripts/install-dependencies.sh [--all]  (--all: also PyTorch, safetensors, ONNX Runtime, Chromium, clang, clang-format)"
      exit 0 ;;
    *) echo "$me: unknown option '$arg' (usage: scripts/install-dependencies.sh [--all])" >&2; exit 2 ;;
  esac
done

# --- Debian or Ubuntu? ---------------------------------------------------------------------------------------------
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
  die "this script needs apt-get and dpkg (Debian 12 / Ubuntu); elsewhere install CMake >= 3.24, g++ (C++17), make," \
    "zlib, libpng, OpenBLAS built with OpenMP, GoogleTest, CLI11, nlohmann-json 3, Python 3 with its headers," \
    "pybind11, NumPy and pytest, the ONNX library (1.12 or newer) and protobuf, the Fashion-MNIST data" \
    "set (the four .gz files, in /usr/share/datasets/fashion-mnist or \$FASHION_MNIST_DIR), and for the GPU path" \
    "the CUDA toolkit 12 or 13 and cuDNN 9"
fi
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || true)
if [ -z "$multiarch" ]; then
  case $arch in amd64) multiarch=x86_64-linux-gnu ;; arm64) multiarch=aarch64-linux-gnu ;; *) multiarch=$arch ;; esac
fi
# shellcheck source=/dev/null
distro=$( (. /etc/os-release 2>/dev/null && echo "${ID:-debian}${VERSION_ID:-12}") | tr -d .)  # e.g. debian12
case $arch in arm64) nv_arch=sbsa ;; *) nv_arch=x86_64 ;; esac
nv_repo="https://developer.download.nvidia.com/compute/cuda/repos/$distro/$nv_arch"

# --- the CUDA path: the CUDA toolkit, cuBLAS and cuDNN 9, as cmake/cuda.cmake finds them (LOOM_CUDA=AUTO builds the
# GPU path where all three are found). Any of them absent is no failure: loom builds its CPU path only, and the
# summary line says so and how to get the GPU path. Sets cuda_summary; cudnn_package when NVIDIA's repository can
# install cuDNN.
cuda_summary=
cudnn_package=
cpu_only() { cuda_summary="loom will build its CPU path only: $*"; }
check_cuda() {
  # the CUDA toolkit, as CMakeLists.txt finds it: /usr/local/cuda/bin/nvcc, else $CUDACXX, else nvcc on PATH -----
  if [ -x /usr/local/cuda/bin/nvcc ]; then
    nvcc=/usr/local/cuda/bin/nvcc
  elif [ -n "${CUDACXX:-}" ] && [ -x "${CUDACXX}" ]; then
    nvcc=$CUDACXX
  elif nvcc=$(command -v nvcc); then
    :
  else
    cpu_only "no CUDA toolkit (no nvcc at /usr/local/cuda/bin/nvcc, \$CUDACXX or on PATH; for the GPU path install" \
      "CUDA 12 or 13 from NVIDIA, https://developer.nvidia.com/cuda-downloads or its apt repository $nv_repo/:" \
      "apt-get install cuda-toolkit-13, then cuDNN 9, and run this again)"
    return
  fi
  # (No `grep -q` or `head` after a pipe here: with pipefail, the writer's SIGPIPE would fail the pipeline.)
  nvcc_says=$("$nvcc" --version 2>/dev/null) || true
  cuda_version=$(sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' <<<"$nvcc_says")
  cuda_version=${cuda_version%%$'\n'*}
  [ -n "$cuda_version" ] ||
    die "$nvcc does not run or does not say its version ('$nvcc --version'): reinstall the CUDA toolkit"
  cuda_major=${cuda_version%%.*}
  [ "$cuda_major" -ge 12 ] ||
    die "$nvcc is CUDA $cuda_version; loom needs the CUDA toolkit 12 or 13 (https://developer.nvidia.com/cuda-downloads)"
  cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
  cuda_lib_dirs=("$cuda_root/lib64" "$cuda_root/lib" "$cuda_root"/targets/*/lib "/usr/lib/$multiarch" /usr/lib64 /usr/lib)
  cuda_include_dirs=("$cuda_root/include" "$cuda_root"/targets/*/include)

  # first_file NAME DIR...: prints the first DIR/NAME that exists.
  first_file() {
    local name=$1 dir
    shift
    for dir in "$@"; do
      if [ -e "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
    done
    return 1
  }

  for lib in cublas cublasLt; do
    first_file "lib$lib.so" "${cuda_lib_dirs[@]}" >/dev/null ||
      { cpu_only "cuBLAS not found (no lib$lib.so in $cuda_root/lib64, the CUDA $cuda_version toolkit at $cuda_root;" \
        "for the GPU path install it with the toolkit: apt-get install libcublas-dev-${cuda_version/./-})"; return; }
  done

  # --- cuDNN 9, as CMakeLists.txt finds it: beside the toolkit, in $CUDNN_ROOT, or in the system's directories -------
  cudnn_include_dirs=("${cuda_include_dirs[@]}")
  cudnn_lib_dirs=("$cuda_root/lib64" "$cuda_root/lib" "$cuda_root"/targets/*/lib)
  if [ -n "${CUDNN_ROOT:-}" ]; then
    cudnn_include_dirs=("$CUDNN_ROOT/include" "$CUDNN_ROOT" "${cudnn_include_dirs[@]}")
    cudnn_lib_dirs=("$CUDNN_ROOT/lib64" "$CUDNN_ROOT/lib" "$CUDNN_ROOT" "${cudnn_lib_dirs[@]}")
  fi
  cudnn_include_dirs+=("/usr/local/include/$multiarch" /usr/local/include "/usr/include/$multiarch" /usr/include)
  cudnn_lib_dirs+=("/usr/local/lib/$multiarch" /usr/local/lib "/usr/lib/$multiarch" /usr/lib64 /usr/lib)

  # find_cudnn: sets cudnn_h, cudnn_so and cudnn_major (empty when not found).
  find_cudnn() {
    local version_h
    cudnn_h=$(first_file cudnn.h "${cudnn_include_dirs[@]}") || cudnn_h=
    cudnn_so=$(first_file libcudnn.so "${cudnn_lib_dirs[@]}") || cudnn_so=
    cudnn_major=
    if [ -n "$cudnn_h" ]; then
      version_h=$(dirname "$cudnn_h")/cudnn_version.h
      [ -e "$version_h" ] || version_h=$cudnn_h
      cudnn_major=$(sed -n 's/^#define CUDNN_MAJOR[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$version_h")
      cudnn_major=${cudnn_major%%$'\n'*}
    fi
  }
  find_cudnn
  cudnn_package=
  if [ -z "$cudnn_h" ] || [ -z "$cudnn_so" ]; then
    if [ -z "$cudnn_h" ]; then missing_what="no cudnn.h"; else missing_what="no libcudnn.so"; fi
    [ -n "$cudnn_h$cudnn_so" ] || missing_what="no cudnn.h, no libcudnn.so"
    where="beside the CUDA toolkit at $cuda_root${CUDNN_ROOT:+, in \$CUDNN_ROOT=$CUDNN_ROOT}"
    where+=", or in /usr/include and /usr/lib/$multiarch"
    # Installed automatically only from NVIDIA's CUDA repository, and only when it is configured already.
    if grep -q 'developer\.download\.nvidia\.com/compute/cuda/repos' <<<"$(apt-cache policy 2>/dev/null)" ||
      grep -rqs 'developer\.download\.nvidia\.com/compute/cuda/repos' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      cudnn_package=cudnn9-cuda-$cuda_major
    else
      cpu_only "cuDNN 9 not found ($missing_what, $where; for the GPU path add NVIDIA's CUDA apt repository," \
        "$nv_repo/ and its cuda-keyring package, and apt-get install cudnn9-cuda-$cuda_major, or unpack NVIDIA's" \
        "cuDNN 9 archive and set CUDNN_ROOT)"
      return
    fi
  elif [ -n "$cudnn_major" ] && [ "$cudnn_major" -lt 9 ]; then
    die "$cudnn_h is cuDNN $cudnn_major; loom needs cuDNN 9 (NVIDIA's CUDA apt repository: apt-get install" \
      "cudnn9-cuda-$cuda_major; or NVIDIA's cuDNN 9 archive with CUDNN_ROOT set to it)"
  fi
  cuda_summary="CUDA $cuda_version at $cuda_root, cuDNN ${cudnn_major:-?}"
}
check_cuda

# --- what is missing ------------------------------------------------------------------------------------------------
wanted=("${required[@]}")
[ "$all" = 0 ] || wanted+=("${optional[@]}")
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${wanted[@]}" 2>/dev/null || true)
missing=()
for package in "${wanted[@]}"; do
  grep -qx "$package installed" <<<"$installed" || missing+=("$package")
done
[ -z "$cudnn_package" ] || missing+=("$cudnn_package")
need_safetensors=0
if [ "$all" = 1 ] && ! /usr/bin/python3 -c 'import safetensors' >/dev/null 2>&1; then need_safetensors=1; fi
# --all: the Python package is built for, and tested with, the python3 found first on PATH; where that is not the
# system's (pyenv, a virtual environment), pytest, NumPy and ONNX Runtime (the package's ONNX export tests) come from
# PyPI into it.
path_python=$(command -v python3 || true)
prefix() { "$1" -c 'import sys; print(sys.prefix)' 2>/dev/null; }
need_pytest=0
if [ "$all" = 1 ] && [ -n "$path_python" ] && [ "$(prefix "$path_python")" != "$(prefix /usr/bin/python3)" ] &&
  ! "$path_python" -c 'import pytest, numpy, onnxruntime' >/dev/null 2>&1; then
  need_pytest=1
fi
# --all: ONNX Runtime with the onnx and safetensors packages, for the test that runs the programs' ONNX exports
# (tests/onnx_runtime.sh), come from PyPI into a virtual environment of their own, which that test finds: the
# system's Python is not changed (its NumPy is the one Debian's PyTorch is built against).
onnx_python=${XDG_CACHE_HOME:-$HOME/.cache}/loom/onnx-python
need_onnx=0
if [ "$all" = 1 ] && ! "$onnx_python/bin/python" -c 'import onnxruntime, onnx, numpy, safetensors' >/dev/null 2>&1; then
  need_onnx=1
fi
# pip_onnx LOG: makes that environment (no root needed: it is the user's).
pip_onnx() {
  if ! { /usr/bin/python3 -m venv --clear "$onnx_python" &&
    "$onnx_python/bin/python" -m pip install -q --retries 1 --timeout 20 onnxruntime onnx numpy safetensors; } \
    >"$1" 2>&1; then
    say "ONNX Runtime not installed into $onnx_python ($(grep -v '^[[:space:]]*$' "$1" | tail -n1 | cut -c1-200)):" \
      "the ONNX Runtime test will skip, saying so"
  fi
}
# pip_pytest LOG: installs them there (no root needed: the environment is the user's).
pip_pytest() {
  local pip=(env PIP_ROOT_USER_ACTION=ignore "$path_python" -m pip install -q --retries 1 --timeout 20)
  if ! "${pip[@]}" pytest numpy >"$1" 2>&1; then
    say "pytest and NumPy not installed for $path_python ($(grep -v '^[[:space:]]*$' "$1" | tail -n1 | cut -c1-200)):" \
      "the Python package's tests will skip"
  elif ! "${pip[@]}" onnxruntime >"$1" 2>&1; then
    say "ONNX Runtime not installed for $path_python ($(grep -v '^[[:space:]]*$' "$1" | tail -n1 | cut -c1-200)):" \
      "the Python package's ONNX Runtime tests will skip, saying so"
  fi
}

# check_cmake: CMakeLists.txt needs CMake 3.24 (Ubuntu 22.04 has 3.22).
check_cmake() {
  local version
  version=$(cmake --version 2>/dev/null | sed -n 's/^cmake version \([0-9][0-9.]*\).*/\1/p')
  if [ "$(printf '%s\n' 3.24 "$version" | sort -V)" != "$(printf '%s\n' 3.24 "$version")" ]; then
    die "cmake ${version:-(not working)} is older than the 3.24 loom needs: install a newer one (Kitware's apt" \
      "repository, https://apt.kitware.com, or: python3 -m pip install cmake)"
  fi
}

summary=$cuda_summary
case " ${missing[*]} " in *" cmake "*) ;; *) check_cmake ;; esac
if [ "${#missing[@]}" = 0 ] && [ "$need_safetensors" = 0 ]; then
  pip_log=$(mktemp)
  [ "$need_pytest" = 0 ] || pip_pytest "$pip_log"
  [ "$need_onnx" = 0 ] || pip_onnx "$pip_log"
  rm -f "$pip_log"
  say "nothing to install from the distribution (${summary})"
  exit 0
fi

# --- root, sudo, or the command to run ------------------------------------------------------------------------------
pip_command="/usr/bin/python3 -m pip install --break-system-packages safetensors"
if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
  as_root=(sudo)
else
  todo="apt-get update && apt-get install -y ${missing[*]}"
  [ "${#missing[@]}" != 0 ] || todo=
  [ "$need_safetensors" = 0 ] || todo="${todo:+$todo && }$pip_command"
  die "cannot install as $(id -un) (not root, no usable sudo): as root, run: $todo"
fi

log=$(mktemp "${TMPDIR:-/tmp}/loom-install-dependencies.XXXXXX.log")
trap 'rm -f "$log"' EXIT
# run_logged WHAT COMMAND...: runs COMMAND with its output in the log; on failure one line naming WHAT and apt's error.
run_logged() {
  local what=$1 reason
  shift
  if ! "$@" >"$log" 2>&1; then
    reason=$(grep -E '^(E:|Err:)' "$log" | tail -n1)
    [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n1)
    cp "$log" "$log.kept"
    die "$what failed: ${reason:-no message} (full output: $log.kept)"
  fi
}
apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)

# candidate PACKAGE: true when the configured apt sources offer PACKAGE.
candidate() { grep -q 'Candidate: [^(]' <<<"$(apt-cache policy "$1" 2>/dev/null)"; }

if [ "${#missing[@]}" != 0 ]; then
  say "installing ${missing[*]} (apt-get; this can take minutes)"
  run_logged "apt-get update" "${apt_get[@]}" update
  # A source apt-get update could not reach is only a warning to it; said with a package it would have offered.
  fetch_failure=$(grep -E '^(W: Failed to fetch|Err:)' "$log" | tail -n1) || true
  to_install=()
  unavailable=()
  for package in "${missing[@]}"; do
    if candidate "$package"; then
      to_install+=("$package")
    elif [ "$package" = chromium ] && command -v chromium-browser >/dev/null 2>&1; then
      :  # Ubuntu's Chromium (a snap) is already there under its own name
    else
      unavailable+=("$package")
    fi
  done
  skipped=()
  for package in "${unavailable[@]}"; do
    case " ${optional[*]} " in
      *" $package "*) skipped+=("$package") ;;
      *)
        hint=
        case $distro in ubuntu*) hint="on Ubuntu, enable the 'universe' component" ;; esac
        [ "$package" != "$cudnn_package" ] || hint="NVIDIA's CUDA repository is configured but offers no $package"
        [ -z "$fetch_failure" ] || hint="${hint:+$hint; }apt-get update said: $fetch_failure"
        die "$package is not available from the configured apt sources${hint:+ ($hint)}; nothing was installed" ;;
    esac
  done
  if [ "${#to_install[@]}" != 0 ]; then
    run_logged "apt-get install ${to_install[*]}" "${apt_get[@]}" install "${to_install[@]}"
  fi
  [ "${#skipped[@]}" = 0 ] ||
    say "not available from the configured apt sources, not installed (the tests that need them will skip):" \
      "${skipped[*]}"
fi

check_cmake
if [ -n "$cudnn_package" ]; then
  find_cudnn
  if [ -z "$cudnn_h" ] || [ -z "$cudnn_so" ]; then
    die "$cudnn_package is installed but cudnn.h or libcudnn.so is still not where the build looks: set CUDNN_ROOT"
  fi
  summary="CUDA $cuda_version at $cuda_root, cuDNN ${cudnn_major:-?}"
fi

if [ "$need_safetensors" = 1 ]; then
  # Not packaged by Debian 12; without network this fails and the PyTorch interop test skips, saying so. (pip before
  # 23.0, as in Ubuntu 22.04, does not know --break-system-packages and does not need it.)
  pip=("${as_root[@]}" env PIP_ROOT_USER_ACTION=ignore /usr/bin/python3 -m pip install -q)
  if ! "${pip[@]}" --break-system-packages safetensors >"$log" 2>&1 &&
    { ! grep -q 'no such option: --break-system-packages' "$log" || ! "${pip[@]}" safetensors >"$log" 2>&1; }; then
    reason=$(sed -n "/connection broken by /{s/.*connection broken by '\(.*\)': .*/PyPI not reachable: \1/p;q;}" "$log")
    [ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$log" | tail -n1)
    say "safetensors not installed (${reason:0:200}): the PyTorch interop test will skip, saying so"
  fi
fi
[ "$need_pytest" = 0 ] || pip_pytest "$log"
[ "$need_onnx" = 0 ] || pip_onnx "$log"
say "done (${summary})"
