#!/usr/bin/env bash
# Everything a session with a lent GPU should check and measure, in two steps that fit the device tool's limits
# (one call of under 10 minutes, 64 MiB carried):
#
#   here, without a GPU:   bash benchmarks/gpu_session.sh bundle
#       builds for sm_90 (H100/H200) into build-sm90/ and gathers the binaries, the data set and the Python
#       scripts into gpu_bundle/ (add "/gpu_bundle/" to .git/info/exclude, then carry it)
#   there, on the GPU:     bash gpu_bundle/benchmarks/gpu_session.sh run "$OUT"
#       runs the test suite (CUDA parity and graph tests included), bench_epoch for both models with and without
#       graphs and with TF32, bench_kernels, the PyTorch comparison, and 10-epoch training of both apps; writes
#       every log and JSON into one archive under the given folder and prints a summary last.
set -u
mode=${1:-}
case "$mode" in
  bundle)
    set -e
    cmake -S . -B build-sm90 -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
    cmake --build build-sm90 -j"$(nproc)"
    data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
    rm -rf gpu_bundle
    mkdir -p gpu_bundle/bin gpu_bundle/data gpu_bundle/benchmarks
    cp build-sm90/tests/loom_tests build-sm90/apps/train_mlp build-sm90/apps/train_cnn \
      build-sm90/benchmarks/bench_epoch build-sm90/benchmarks/bench_kernels gpu_bundle/bin/
    cp "$data"/*-ubyte.gz gpu_bundle/data/
    cp benchmarks/pytorch_reference.py benchmarks/compare.py benchmarks/gpu_session.sh gpu_bundle/benchmarks/
    du -sh gpu_bundle
    ;;
  run)
    bundle=$(cd "$(dirname "$0")/.." && pwd)
    out=${2:-$PWD/gpu-results}
    work=$(mktemp -d)
    mkdir -p "$out"
    # cuDNN (and sometimes cuBLAS) may be installed only inside Python's packages on the GPU machine.
    for lib in libcudnn.so.9 libcublas.so.13; do
      if ! ldconfig -p | grep -q "$lib"; then
        found=$(find / -name "$lib" -not -path '*/proc/*' 2>/dev/null | head -n 1)
        [ -n "$found" ] && export LD_LIBRARY_PATH="$(dirname "$found")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      fi
    done
    export FASHION_MNIST_DIR="$bundle/data"
    bin="$bundle/bin"
    step() {  # step NAME COMMAND...: run, keep its log, note its exit status
      echo "== $1" | tee -a "$work/summary.txt"
      shift
      "$@" >"$work/$name.log" 2>&1
      local rc=$?
      echo "   exit $rc" | tee -a "$work/summary.txt"
      return $rc
    }
    nvidia-smi >"$work/nvidia-smi.txt" 2>&1
    name=tests step "test suite" "$bin/loom_tests" --gtest_output=json:"$work/tests.json"
    tail -n 3 "$work/tests.log" >>"$work/summary.txt"
    for model in mlp cnn; do
      name=bench_${model} step "bench_epoch $model" "$bin/bench_epoch" --model $model --device cuda --json "$work/bench_${model}.json"
      name=bench_${model}_nograph step "bench_epoch $model --no-graph" "$bin/bench_epoch" --model $model --device cuda --no-graph \
        --json "$work/bench_${model}_nograph.json"
      name=bench_${model}_tf32 step "bench_epoch $model --tf32" "$bin/bench_epoch" --model $model --device cuda --tf32 \
        --json "$work/bench_${model}_tf32.json"
    done
    name=kernels step "bench_kernels" "$bin/bench_kernels" --device cuda --json "$work/kernels.json"
    name=compare step "compare.py" python3 "$bundle/benchmarks/compare.py" --bench "$bin/bench_epoch" --device cuda \
      --epochs 5 --json "$work/compare.json"
    tail -n 4 "$work/compare.log" >>"$work/summary.txt"
    name=train_mlp step "train_mlp 10 epochs" "$bin/train_mlp" --device cuda --epochs 10
    name=train_cnn step "train_cnn 10 epochs" "$bin/train_cnn" --device cuda --epochs 10
    name=train_cnn_tf32 step "train_cnn 10 epochs --tf32" "$bin/train_cnn" --device cuda --epochs 10 --tf32
    for log in train_mlp train_cnn train_cnn_tf32; do
      grep -E "^Epoch|/1875 |Test accuracy" "$work/$log.log" | tail -n 3 >>"$work/summary.txt"
    done
    for json in "$work"/bench_*.json; do
      [ -f "$json" ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(sys.argv[1].split('/')[-1], \
'%.2f ms/epoch' % d['ms_per_epoch_median'], '%.1f us/step' % d['us_per_step'], 'peak %s B' % d.get('peak_device_bytes'), \
'growth %s B' % d.get('device_memory_growth_bytes'))" "$json" >>"$work/summary.txt"
    done
    tar czf "$out/gpu-results.tar.gz" -C "$work" .
    cat "$work/summary.txt"
    ;;
  *)
    echo "usage: gpu_session.sh bundle | run OUT_DIR" >&2
    exit 2
    ;;
esac
