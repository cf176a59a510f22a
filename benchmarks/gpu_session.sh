#!/usr/bin/env bash
# Everything to check and measure on a borrowed GPU machine, in two remote calls: the machine is held 15 minutes in
# all, its start-up (1–2 minutes) included; a call runs one command of at most 10 minutes with a 64 MiB working tree
# (carried paths included), and brings back at most 8 files of $OUT and the last 12,000 characters of output. Three
# commands:
#
#   1. here, without a GPU, in the repository root:
#        bash benchmarks/gpu_session.sh bundle
#      builds for sm_90 (H100/H200) into build-sm90/ and gathers the binaries (loom_tests, train_mlp, train_cnn,
#      predict, report, bench_epoch, bench_kernels, device_info), the data set, the Python scripts, this script and
#      its summary program (gpu_session_summary.py), BUILD_INFO (commit and changed files) and gpu_tests.filter (the
#      tests that need a GPU: `ctest -L gpu -LE slow`, by the labels of tests/CMakeLists.txt) into gpu_bundle/ (about
#      42 MiB, the binaries xz-compressed with their symbols; gpu_bundle/ and build-sm90/ are ignored by git).
#   2. on the GPU (gpu_bundle/ is ignored by git, so it must be carried), first:
#        bash gpu_bundle/benchmarks/gpu_session.sh run "$OUT"
#      finds cuDNN/cuBLAS (Python's site-packages included) and runs, most important first, each step under its own
#      time limit and all within a deadline of LOOM_GPU_SESSION_SECONDS (default 450 s): device_info; the whole test
#      suite; compute-sanitizer's memcheck and racecheck on the GPU tests; one epoch of each app on a terminal (live
#      progress monitor); resuming from a checkpoint against a run in one go, and predict; bench_epoch for both
#      models with graphs; 10-epoch training of both apps (their HTML reports in the logs, and `report` putting both
#      side by side). That is as much as 450 s holds. The summary, printed last, ends with the command for the second
#      call, which runs the rest within what is left of the 15 minutes (270 s after a full first call):
#        LOOM_GPU_SESSION_SECONDS=270 bash gpu_bundle/benchmarks/gpu_session.sh run "$OUT" compare ...
#      compare.py (PyTorch eager and CUDA graph beside loom), bench_epoch --no-graph for both models and --tf32 for
#      the CNN, bench_kernels and a 10-epoch train_cnn --tf32.
#   3. anywhere, without a bundle or a GPU:
#        bash benchmarks/gpu_session.sh plan
#      prints the steps in order with their expected and limit seconds, the call each falls in, the totals and the
#      second call's command. It walks the same steps as `run`, deciding as `run` does but on a clock that each step
#      advances by its expected seconds, so it shows what a run does when every step takes the time expected of it.
#
# Two steps run only when a STEP-GLOB names them, as neither call has room for them: train_cnn --preset best
# (train_best) and memcheck on short real training (memcheck_cnn).
#
# What `run OUT` writes: while it runs, every step's log and JSON go straight to a scratch folder's logs/ (STEP.log,
# STEP.json) and a line or three per finished step are appended to OUT/summary.txt; after every step
# OUT/results.tar.gz is refreshed with all the logs and the summary, so a run cut off anywhere keeps what it had done.
# OUT never holds more than summary.txt, results.tar.gz (and its .partial while it is rewritten) and, at the end,
# device_info.json: a remote call brings back at most 8 files, so loose logs there could crowd out the archive.
#
# Steps not reached before the deadline are marked "not run: out of time" and "left for the next call" with the
# command that runs just them and, after a default run, the deadline that what is left of the 15 minutes allows:
#   LOOM_GPU_SESSION_SECONDS=270 bash gpu_bundle/benchmarks/gpu_session.sh run "$OUT" STEP...
# (`report` reads the models train_mlp and train_cnn save in the same call, so where one is left, both go with it.)
# device_info always runs. A step fails when any program it runs fails: its status is theirs. Exit status: 0 when
# every step that ran passed, else 1 (143 when interrupted). LOOM_REQUIRE_CUDA=1 is exported: a test that would skip
# for want of a GPU fails instead.
set -u

usage() {
  echo "usage: gpu_session.sh bundle | run OUT_DIR [STEP-GLOB...] | plan   (see the comment at the top)" >&2
  exit 2
}

bundle() {
  set -e
  cmake -S . -B build-sm90 -DCMAKE_BUILD_TYPE=Release -DLOOM_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build build-sm90 -j"$(nproc)"
  local data=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
  rm -rf gpu_bundle
  mkdir -p gpu_bundle/bin gpu_bundle/data gpu_bundle/benchmarks
  # The programs xz-compressed (26 MiB as they are, 7 MiB so), symbols kept for compute-sanitizer's backtraces; run
  # mode unpacks them into its scratch folder.
  local program
  for program in build-sm90/tests/loom_tests \
    build-sm90/apps/train_mlp build-sm90/apps/train_cnn build-sm90/apps/predict build-sm90/apps/report \
    build-sm90/benchmarks/bench_epoch build-sm90/benchmarks/bench_kernels build-sm90/benchmarks/device_info; do
    xz -6 -T0 -c "$program" >"gpu_bundle/bin/$(basename "$program").xz"
  done
  cp "$data"/*-ubyte.gz gpu_bundle/data/
  # The host libraries a bare GPU machine may lack (OpenBLAS's OpenMP build and what it loads, libpng, ...): every one
  # the programs load but the C and C++ runtimes and the CUDA libraries, xz-compressed (OpenBLAS is 36 MiB as it is,
  # 4 MiB so); run mode unpacks them and puts them first on LD_LIBRARY_PATH.
  mkdir -p gpu_bundle/lib
  local soname path
  ldd build-sm90/tests/loom_tests build-sm90/apps/train_mlp build-sm90/benchmarks/bench_epoch |
    awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u |
    while read -r soname path; do
      case $soname in
        libc.so.* | libm.so.* | libstdc++.so.* | libgcc_s.so.* | libdl.so.* | libpthread.so.* | librt.so.* | \
          ld-linux* | libcuda.so.* | libcublas* | libcudnn* | libcudart*) ;;
        *) xz -6 -T0 -c "$(readlink -f "$path")" >"gpu_bundle/lib/$soname.xz" ;;
      esac
    done
  [ -f gpu_bundle/lib/libopenblas.so.0.xz ] || { echo "gpu_session: OpenBLAS is not among the libraries" >&2; exit 1; }
  cp benchmarks/pytorch_reference.py benchmarks/reference_files.py benchmarks/compare.py benchmarks/gpu_session.sh \
    benchmarks/gpu_session_summary.py gpu_bundle/benchmarks/
  # The GPU tests, for the sanitizer runs: the cases ctest labels gpu (tests/CMakeLists.txt), less any labelled slow
  # (a sanitizer runs them 10-100 times slower), as loom_tests' --gtest_filter; ctest -N lists them without a GPU.
  ctest --test-dir build-sm90 -N -V -L gpu -LE slow | sed -n 's/.* "--gtest_filter=\([^"]*\)".*/\1/p' |
    paste -sd: >gpu_bundle/gpu_tests.filter
  if grep -q . gpu_bundle/gpu_tests.filter; then
    echo "GPU tests for the sanitizers: $(tr ':' '\n' <gpu_bundle/gpu_tests.filter | wc -l)"
  else
    echo "WARNING: ctest lists no test labelled gpu in build-sm90; the sanitizers will use a name pattern" >&2
    rm -f gpu_bundle/gpu_tests.filter
  fi
  {
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), built $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "changed since the commit: $(git status --porcelain 2>/dev/null | wc -l) file(s)"
    git status --porcelain 2>/dev/null | head -n 30
  } >gpu_bundle/BUILD_INFO
  local folder
  for folder in gpu_bundle/ build-sm90/; do
    git check-ignore -q "$folder" || echo "WARNING: $folder is not ignored by git: never commit it" >&2
  done
  # A remote call carries at most 64 MiB: the bundle and the working tree it travels with (tracked files and untracked
  # ones git does not ignore). 62 MiB leaves room for files changed between making the bundle and the call.
  local kib tree_kib
  kib=$(du -sk gpu_bundle | cut -f1)
  tree_kib=$(git ls-files -z --cached --others --exclude-standard 2>/dev/null |
    xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ total += $1 } END { print int(total / 1024) }')
  echo "gpu_bundle: $((kib / 1024)) MiB, with the working tree $(((kib + tree_kib) / 1024)) MiB" \
    "(a remote call carries 64 MiB at most)"
  if [ $((kib + tree_kib)) -gt $((62 * 1024)) ]; then
    echo "gpu_bundle is too large to carry: $(((kib + tree_kib) / 1024)) MiB with the working tree, 62 MiB at most" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------------------------------------
# run and plan modes

# The lines the summary keeps of a step's log and JSON: gpu_session_summary.py KIND LOG [JSON], beside this script.
SUMMARIZE=$(cd "$(dirname "$0")" && pwd)/gpu_session_summary.py

# The resume check, one step per model: BIN MODEL DIFFERENCE, where DIFFERENCE is "expected" when a resumed run may
# differ from one in one go (the CNN: Conv2D's bias gradient adds with atomics), "unexpected" when it must not (the
# MLP). Every program's output goes to a file, not through a pipe, so that the step's status is theirs: a resumed run
# that crashes after writing its weights must fail it, and two runs that wrote nothing must not compare equal.
RESUME=$(
  cat <<'SH'
bin=$1 model=$2 difference=$3
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT
failed() {
  echo "resume $model: FAILED: $*"
  exit 1
}
# program NAME LINES COMMAND...: COMMAND's output in a file, its last LINES lines shown, and the step failed with it.
program() {
  local name=$1 shown=$2 rc
  shift 2
  "$@" >"$scratch/$name.out" 2>&1 </dev/null
  rc=$?
  echo "--- $name: $(basename "$1") ${*:2} (exit $rc)"
  tail -n "$shown" "$scratch/$name.out"
  [ "$rc" -eq 0 ] || failed "$name ($(basename "$1")) exited with $rc"
}
# tensors FILE OUT: FILE's tensor bytes, after its 8-byte header length and JSON header (a resumed run's describes
# the run differently), into OUT.
tensors() {
  local size length
  [ -s "$1" ] || failed "$(basename "$1") was not written"
  size=$(wc -c <"$1")
  length=$(od -An -t u8 -N8 "$1" | tr -d ' \n')
  if ! [[ $length =~ ^[0-9]{1,12}$ ]] || [ $((8 + length)) -ge $((size)) ]; then
    failed "$(basename "$1") holds no tensor bytes after its header (header length '$length', $((size)) bytes)"
  fi
  tail -c +$((9 + length)) "$1" >"$2" || failed "could not read the tensor bytes of $(basename "$1")"
}
# 200 steps an epoch, so that the three runs take seconds rather than whole epochs; a resumed run must have the
# checkpoint's settings, so every run has it.
short=(--device cuda --steps-per-epoch 200)
program checkpoint 3 "$bin/train_$model" "${short[@]}" --epochs 2 --checkpoint "$scratch/c.st"
program resumed 3 "$bin/train_$model" "${short[@]}" --epochs 3 --resume "$scratch/c.st" --save "$scratch/r.st"
program straight 3 "$bin/train_$model" "${short[@]}" --epochs 3 --save "$scratch/s.st"
program predict 11 "$bin/predict" --device cuda --model "$scratch/r.st" \
  --idx "$FASHION_MNIST_DIR/t10k-images-idx3-ubyte.gz" --index 0
tensors "$scratch/r.st" "$scratch/r.bytes"
tensors "$scratch/s.st" "$scratch/s.bytes"
if cmp -s "$scratch/r.bytes" "$scratch/s.bytes"; then
  echo "resume $model: bit-identical ($(($(wc -c <"$scratch/r.bytes"))) tensor bytes)"
elif [ "$difference" = expected ]; then
  echo "resume $model: different, as may be expected"
else
  failed "2 epochs + 1 resumed differ from 3 in one go"
fi
SH
)

# unpack FILE.xz DEST: with xz where the machine has it, else with Python's lzma.
unpack() {
  if command -v xz >/dev/null 2>&1; then
    xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}

# The two calls' arithmetic. Of the 15 minutes of device time, about 2 go to the machine's start-up and about 30 s
# follow each call (the results coming back, the machine idling before it is handed back); the rest is the two
# calls' own run time. One command may run 10 minutes; a deadline of at most 570 s leaves it time to pack up.
DEVICE_SECONDS=900 STARTUP_SECONDS=120 AFTER_CALL_SECONDS=30 COMMAND_SECONDS=570
FIRST_CALL_SECONDS=450
# Setup before the first step (unpacking, the libraries' search, nvidia-smi, PyTorch's import): an estimate.
SETUP_SECONDS=25
# Neither call has room for these: they run only when a STEP-GLOB names them.
ON_REQUEST=(train_best memcheck_cnn)

# second_call_seconds FIRST: the deadline a second call can have after a first call that ran FIRST seconds.
second_call_seconds() {
  local left=$((DEVICE_SECONDS - STARTUP_SECONDS - 2 * AFTER_CALL_SECONDS - $1))
  [ "$left" -gt "$COMMAND_SECONDS" ] && left=$COMMAND_SECONDS
  echo "$left"
}

# next_call SECONDS STEP...: the command that runs just those steps, with that deadline where SECONDS is not empty.
next_call() {
  echo "${1:+LOOM_GPU_SESSION_SECONDS=$1 }bash gpu_bundle/benchmarks/gpu_session.sh run \"\$OUT\" ${*:2}"
}

note() { printf '%s\n' "$@" >>"$summary"; }

pack() {  # the archive always holds every log so far, even if the run is cut off
  tar czf "$out/results.tar.gz.partial" -C "$work" logs -C "$out" summary.txt 2>/dev/null &&
    mv -f "$out/results.tar.gz.partial" "$out/results.tar.gz"
}

# selected NAME: true when a STEP-GLOB matches NAME, or when none was given and NAME is not run only on request.
selected() {
  local glob
  if [ ${#selection[@]} -eq 0 ]; then
    for glob in "${ON_REQUEST[@]}"; do
      [ "$1" = "$glob" ] && return 1
    done
    return 0
  fi
  for glob in "${selection[@]}"; do
    # shellcheck disable=SC2053  # the glob is meant to match as a pattern
    [[ $1 == $glob ]] && return 0
  done
  return 1
}

# step NAME EXPECTED LIMIT COMMAND...: runs COMMAND under `timeout` with min(LIMIT, time left) seconds, its output
# to logs/NAME.log; starts it only if at least EXPECTED seconds (our estimate of its run on an H100) are left. Sets
# step_rc (-1: not run). In a plan (dry_run set) the same decision is made on `clock`, which a step that would start
# advances by its expected seconds, and the step is added to `planned` instead of being run.
step() {
  local name=$1 expected=$2 limit=$3
  shift 3
  step_rc=-1
  selected "$name" || [ "$name" = device_info ] || return 0
  local now=$SECONDS
  [ -n "$dry_run" ] && now=$clock
  local left=$((deadline - now))
  if [ "$left" -lt "$expected" ]; then
    not_run+=("$name")
    [ -n "$dry_run" ] ||
      printf '%-18s not run: out of time (%d s left, needs about %d)\n' "$name" "$left" "$expected" >>"$summary"
    return 0
  fi
  if [ -n "$dry_run" ]; then
    planned+=("$name $expected $limit")
    clock=$((clock + expected))
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  current=$name
  echo "[$((SECONDS - deadline + budget)) s] $name (limit $limit s)"
  local start=$SECONDS
  timeout -k 5 "$limit" "$@" >"$logs/$name.log" 2>&1 </dev/null &
  step_pid=$!
  wait "$step_pid"
  step_rc=$?
  step_pid=""
  local verdict="exit $step_rc"
  [ "$step_rc" -eq 124 ] || [ "$step_rc" -eq 137 ] && verdict="TIMED OUT at its ${limit} s limit"
  [ "$step_rc" -ne 0 ] && failed+=("$name")
  printf '%-18s %-30s %4d s\n' "$name" "$verdict" $((SECONDS - start)) >>"$summary"
}

# result KIND LOG [FILES...]: the step's key lines into the summary (if it ran), then refresh the archive.
result() {
  [ "$step_rc" -eq -1 ] && return 0
  if command -v python3 >/dev/null; then
    timeout 30 python3 "$SUMMARIZE" "$@" >>"$summary" 2>&1 || note "    (could not summarize $2)"
  else
    note "    $(tail -n 1 "$2")"
  fi
  pack
}

# sanitize TOOL NAME EXPECTED LIMIT COMMAND...: COMMAND under compute-sanitizer's TOOL as step NAME; "not run", not
# failed, where the sanitizer is missing or cannot attach.
sanitize() {
  local tool=$1 name=$2 expected=$3 limit=$4
  shift 4
  # Whether compute-sanitizer can attach here is learnt once, on a tiny program, before any real step pays for it
  # (some machines run the GPU behind a sandbox that the sanitizer refuses), and only when the step has time to run.
  if [ -n "$sanitizer" ] && [ -z "$sanitizer_checked" ] && selected "$name" &&
    [ $((deadline - SECONDS)) -ge "$expected" ]; then
    sanitizer_checked=1
    if ! timeout 90 "$sanitizer" --tool memcheck --error-exitcode 1 "$bin/device_info" --require-gpu \
      >"$logs/sanitizer_check.log" 2>&1 </dev/null; then
      sanitizer_missing="compute-sanitizer cannot run here: $(grep -v '^{\|^ \|^}' "$logs/sanitizer_check.log" |
        tail -n 1 | cut -c1-150)"
      sanitizer=""
    fi
  fi
  if [ -z "$sanitizer" ]; then
    selected "$name" && note "$(printf '%-18s not run: %s' "$name" "$sanitizer_missing")"
    return 0
  fi
  # No leak check: the CUDA context is never torn down (engine/runtime/cuda_context.cpp), so its workspaces would
  # be reported. No API-error reports: loom checks every call's status itself, and tests provoke some on purpose
  # (a failed graph capture, "not ready" from a progress snapshot).
  step "$name" "$expected" "$limit" "$sanitizer" --tool "$tool" --report-api-errors no --error-exitcode 1 \
    --print-limit 20 "$@"
  result sanitizer "$logs/$name.log"
}

# bench_step MODEL VARIANT FLAG...: bench_epoch, 3 timed epochs after 1 warm-up: MLP ~4 × 1.5 s + start ≈ 12 s;
# CNN ~4 × 5 s + start ≈ 30 s. Each run validates its own training and reports whether graphs really replayed and
# whether memory grew.
bench_step() {
  local model=$1 variant=$2 expected=12 limit=60
  shift 2
  if [ "$model" = cnn ]; then
    expected=30 limit=120
  fi
  step "bench_${model}_$variant" "$expected" "$limit" "$bin/bench_epoch" --model "$model" --device cuda --epochs 3 \
    "$@" --json "$logs/bench_${model}_$variant.json"
  result bench "$logs/bench_${model}_$variant.log" "$logs/bench_${model}_$variant.json"
}

# The steps, most important first, so that a run cut short has told the most; `run` runs them and `plan` walks
# them. Expected seconds (the second number: a step starts only if that much is left) are estimates for an H100 with
# margin: MLP epoch 1–2 s, CNN epoch 3–10 s, a process start with cuBLAS/cuDNN initialisation and the data set's
# loading 2–5 s, PyTorch's import about 10 s, compute-sanitizer 10–100× slower. The third number is the step's own
# limit. With setup, the first call's steps (to `report`) fill the 450 s deadline and the second call's the 270 s
# left of the 15 minutes: `plan` shows the sums, and a step added here has to fit one of them or run only on request.
#  1. device_info: without a usable GPU and loadable libraries nothing else means anything.
#  2. the whole test suite (CPU reference ~6 s, CUDA parity and graph tests): correctness before speed.
#  3. memcheck and racecheck on the GPU tests, which run every loom kernel, graph capture and replay included:
#     out-of-bounds, misaligned and racing accesses the parity tests could miss. The best tool for kernel bugs,
#     so it comes before any timing.
#  4. the interactive path (a terminal, so the live progress monitor runs on the GPU), one epoch of each app.
#  5. resuming from a checkpoint on the GPU, compared with an uninterrupted run, and predict there.
#  6. bench_epoch with graphs, both models: the numbers this engine is built for.
#  7. 10-epoch training of both apps (accuracy against Keras's figures) and `report` beside them.
#  --- the second call
#  8. the PyTorch comparison (eager and CUDA graph beside loom).
#  9. bench_epoch --no-graph (both) and --tf32 (CNN), bench_kernels, 10-epoch train_cnn --tf32.
#  Left out for time: racecheck on short real training (it adds little once racecheck has run every loom kernel in
#  the GPU tests); memcheck on short MLP training (the CNN's runs the same dense, ReLU, loss and Adam kernels);
#  bench_epoch --tf32 and 10-epoch training with --tf32 for the MLP (its products, batch 32 by 784 by 128, are too
#  small for tensor cores to change its time; the TF32 parity tests check its dense products, and the CNN's --tf32
#  training what TF32 does to accuracy). On request only: train_cnn --preset best, memcheck on short CNN training.
steps() {
  step device_info 2 30 "$bin/device_info" --require-gpu --json "$logs/device_info.json"
  result device "$logs/device_info.log" "$logs/device_info.json"

  # ~6 s on the CPU here; the CUDA tests are small.
  step tests 30 120 "$bin/loom_tests" --gtest_output=json:"$logs/tests.json"
  result tests "$logs/tests.log"

  # The GPU tests (listed at bundle time; else by name) take 10–20 s plainly, mostly outside kernels; 90 s expected
  # under each tool (memcheck's including the check that the sanitizer can attach), 150 s allowed.
  local gpu_tests='*Cuda*:*cuda*:*Gpu*:*Parity*:*CudaGraph*'
  [ -s "$bundle/gpu_tests.filter" ] && gpu_tests=$(cat "$bundle/gpu_tests.filter")
  sanitize memcheck memcheck_tests 90 150 "$bin/loom_tests" --gtest_filter="$gpu_tests"
  sanitize racecheck racecheck_tests 90 150 "$bin/loom_tests" --gtest_filter="$gpu_tests"

  local model cmd
  for model in mlp cnn; do  # one epoch: MLP ~5 s, CNN ~15 s with start-up
    if [ -z "$script_ok" ]; then
      selected "tty_$model" &&
        note "$(printf '%-18s not run: util-linux script is missing or cannot open a terminal' "tty_$model")"
      continue
    fi
    printf -v cmd '%q ' "$bin/train_$model" --device cuda --epochs 1
    if [ "$model" = mlp ]; then step tty_mlp 10 60 script -qec "$cmd" /dev/null; else
      step tty_cnn 20 90 script -qec "$cmd" /dev/null; fi
    result tty "$logs/tty_$model.log"
  done

  # Resuming on the GPU (docs/CHECKPOINTS.md): 2 epochs with a checkpoint and a 3rd resumed from it against 3 in one
  # go, 200 steps an epoch, their tensor bytes compared; then predict with the resumed weights. Four process starts
  # and about 1,600 steps: MLP ≈ 20 s, CNN ≈ 30 s.
  step resume_mlp 20 90 bash -c "$RESUME" resume "$bin" mlp unexpected
  result resume "$logs/resume_mlp.log"
  step resume_cnn 30 120 bash -c "$RESUME" resume "$bin" cnn expected
  result resume "$logs/resume_cnn.log"

  bench_step mlp graph
  bench_step cnn graph

  # 10 epochs and evaluation: MLP ≈ 10 × 1.5 s + start ≈ 20 s; CNN ≈ 10 × 5 s + start ≈ 60 s. Each writes its HTML
  # report (the GPU's name in its settings), weights and history; then `report` puts both side by side, evaluating
  # them on the GPU again (≈ 10 s). The reports come back in results.tar.gz for a look.
  step train_mlp 20 60 "$bin/train_mlp" --device cuda --epochs 10 --report "$logs/report_mlp.html" \
    --save "$logs/mlp.safetensors" --history "$logs/history_mlp.csv"
  result train "$logs/train_mlp.log"
  step train_cnn 60 150 "$bin/train_cnn" --device cuda --epochs 10 --report "$logs/report_cnn.html" \
    --save "$logs/cnn.safetensors" --history "$logs/history_cnn.csv"
  result train "$logs/train_cnn.log"
  # `report` reads the models both runs save in this call: where one of them is left for the next call, `report`
  # goes there too (here it would fail for want of that model); where `report` is, both runs go with it, to save
  # their models there.
  if [[ " ${not_run[*]:-} " == *" train_mlp "* || " ${not_run[*]:-} " == *" train_cnn "* ]] && selected report; then
    not_run+=(report)
    [ -n "$dry_run" ] ||
      note "$(printf '%-18s not run: it needs the models of train_mlp and train_cnn in one call' report)"
  else
    step report 10 60 "$bin/report" --device cuda --run "$logs/mlp.safetensors" "$logs/history_mlp.csv" \
      --run "$logs/cnn.safetensors" "$logs/history_cnn.csv" --name MLP --name CNN -o "$logs/report_both.html"
    result log "$logs/report.log"
  fi
  if [[ " ${not_run[*]:-} " == *" report "* ]]; then
    for model in train_mlp train_cnn; do
      [[ " ${not_run[*]} " == *" $model "* ]] || ! selected "$model" || not_run+=("$model")
    done
  fi

  # PyTorch beside loom: per model, loom (graphs) + PyTorch eager + PyTorch graph, each 1 warm-up + 3 epochs.
  # MLP ≈ 6 + 12 + 4 s, CNN ≈ 20 + 25 + 15 s, plus two PyTorch imports ≈ 20 s: ≈ 100 s expected, 240 s allowed.
  step compare 100 240 python3 "$bundle/benchmarks/compare.py" --bench "$bin/bench_epoch" --device cuda --epochs 3 \
    --json "$logs/compare.json"
  result compare "$logs/compare.log"

  bench_step mlp nograph --no-graph
  bench_step cnn nograph --no-graph
  bench_step cnn tf32 --tf32

  # bench_kernels: 9 kernels × (check + 5 rounds of 200 launches): a few seconds.
  step kernels 10 60 "$bin/bench_kernels" --device cuda --json "$logs/kernels.json"
  result kernels "$logs/kernels.log" "$logs/kernels.json"

  # TF32's accuracy after 10 epochs, against train_cnn's above (the prediction: within ±0.3%).
  step train_cnn_tf32 60 150 "$bin/train_cnn" --device cuda --epochs 10 --tf32
  result train "$logs/train_cnn_tf32.log"

  # On request only. The preset's GPU targets (≥ 0.945 within 60 s, ≥ 0.93 within 5 s): its history has each
  # epoch's seconds and, with the validation split off, the test accuracy comes at the end only; 20 epochs of a CNN
  # about 3× the tutorial's, expected 40–90 s.
  step train_best 90 180 "$bin/train_cnn" --device cuda --preset best --history "$logs/history_best.csv" \
    --save "$logs/best.safetensors"
  result train "$logs/train_best.log"
  # Real training under memcheck: fit (graph capture and replay, 1 epoch of 20 steps) and evaluate, with the
  # model's own shapes.
  sanitize memcheck memcheck_cnn 90 180 "$bin/bench_epoch" --device cuda --model cnn --epochs 1 --max-steps 20
}

finish() {
  [ -f "$logs/device_info.json" ] && cp "$logs/device_info.json" "$out/"
  if [ ${#not_run[@]} -gt 0 ]; then
    note "left for the next call: ${not_run[*]}"
    if [ ${#selection[@]} -gt 0 ]; then
      # A call that named its steps may itself have been the second: the time left is not known here.
      note "  to run just those (LOOM_GPU_SESSION_SECONDS: what is left of the device time, less ${AFTER_CALL_SECONDS} s):" \
        "  $(next_call "" "${not_run[@]}")"
    else
      local next
      next=$(second_call_seconds "$SECONDS")
      if [ "$next" -ge $((SETUP_SECONDS + 30)) ]; then
        note "  to run just those in a second call, within what is left of the 15 minutes of device time:" \
          "  $(next_call "$next" "${not_run[@]}")"
      else
        note "  too little of the 15 minutes of device time is left for them; to run just those later:" \
          "  $(next_call "" "${not_run[@]}")"
      fi
    fi
  fi
  [ ${#selection[@]} -eq 0 ] && note "only when named (neither call has room for them): ${ON_REQUEST[*]}"
  note "failed or timed out: ${failed[*]:-none}" \
    "total $((SECONDS - deadline + budget)) s of a ${budget} s deadline; logs and JSON in $out/results.tar.gz"
  pack
  rm -rf "$work"
  echo "================================ summary ($summary)"
  cat "$summary"
}

run() {
  [ $# -ge 1 ] || usage
  local bundle out
  bundle=$(cd "$(dirname "$0")/.." && pwd)
  out=$1
  shift
  local selection=("$@")
  mkdir -p "$out" || exit 1
  out=$(cd "$out" && pwd)
  local work
  work=$(mktemp -d) || exit 1
  mkdir -p "$work/logs"
  local logs=$work/logs bin=$work/bin summary=$out/summary.txt
  local budget=${LOOM_GPU_SESSION_SECONDS:-$FIRST_CALL_SECONDS}
  local deadline=$((SECONDS + budget))
  local not_run=() failed=() current="" step_pid="" step_rc=-1 dry_run="" clock=0
  : >"$summary"
  export LOOM_REQUIRE_CUDA=1 FASHION_MNIST_DIR="$bundle/data" PYTHONUNBUFFERED=1

  interrupted() {
    [ -n "$step_pid" ] && kill -TERM "$step_pid" 2>/dev/null
    note "INTERRUPTED by a signal during ${current:-setup} (it is not counted below)"
    finish
    exit 143
  }
  trap interrupted TERM INT HUP

  note "loom GPU session on $(hostname), $(date -u '+%Y-%m-%d %H:%M UTC')" \
    "bundle: $(head -n 2 "$bundle/BUILD_INFO" 2>/dev/null | tr '\n' ' ')"

  # --- Setup (not timed as a step; every command bounded). The programs first: without them nothing below can run.
  mkdir -p "$bin"
  local packed program
  for packed in "$bundle"/bin/*.xz; do
    program=$bin/$(basename "$packed" .xz)
    if ! { unpack "$packed" "$program" && chmod +x "$program"; }; then note "could not unpack $packed"; fi
  done
  # The bundle's host libraries that the machine lacks go on LD_LIBRARY_PATH, and OpenBLAS always (the programs need its
  # OpenMP build): the others, found in the machine's own loader cache, are left to it, so Python and PyTorch, which
  # run here too, keep the libraries they were built against.
  if compgen -G "$bundle/lib/*.xz" >/dev/null; then
    mkdir -p "$work/lib"
    local lib
    for packed in "$bundle"/lib/*.xz; do
      lib=$(basename "$packed" .xz)
      if [ "$lib" != libopenblas.so.0 ] && ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*$lib "; then
        continue
      fi
      unpack "$packed" "$work/lib/$lib" || note "could not unpack $packed"
    done
    export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # cuDNN, and sometimes cuBLAS, may be installed only inside
  # Python's packages (pip's nvidia-* wheels), where the loader does not look: find them and put them on
  # LD_LIBRARY_PATH. No unbounded `find /`: Python's site-packages first, then a few system folders, with timeouts.
  {
    echo "LD_LIBRARY_PATH before: ${LD_LIBRARY_PATH:-}"
    local sites lib found dir dirs
    sites=$(timeout 20 python3 -c \
      'import site; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null)
    echo "python site-packages: $(echo "$sites" | tr '\n' ' ')"
    for lib in libcudnn.so.9 libcublas.so.13 libcublasLt.so.13; do
      found=$(ldconfig -p 2>/dev/null | awk -v lib="$lib" '$1 == lib { print $NF; exit }')
      if [ -n "$found" ]; then
        echo "$lib: $found (ldconfig)"
        continue
      fi
      found=""
      IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
      for dir in "${dirs[@]}"; do
        [ -n "$dir" ] && [ -e "$dir/$lib" ] && found=$dir/$lib && break
      done
      if [ -n "$found" ]; then
        echo "$lib: $found (already on LD_LIBRARY_PATH)"
        continue
      fi
      while read -r dir; do
        [ -d "$dir" ] || continue
        found=$(timeout 20 find "$dir/nvidia" "$dir/torch/lib" -maxdepth 4 -name "$lib" 2>/dev/null | head -n 1)
        [ -n "$found" ] && break
      done <<<"$sites"
      [ -n "$found" ] ||
        found=$(timeout 30 find /usr/local /usr/lib /usr/lib64 /opt -maxdepth 6 -name "$lib" 2>/dev/null | head -n 1)
      if [ -n "$found" ]; then
        dir=$(dirname "$found")
        export LD_LIBRARY_PATH="$dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        echo "$lib: $found (added its folder to LD_LIBRARY_PATH)"
      else
        echo "$lib: NOT FOUND (loom's programs will not start)"
      fi
    done
    echo "LD_LIBRARY_PATH after: ${LD_LIBRARY_PATH:-}"
    echo "unresolved by the loader (ldd $bin/loom_tests):"
    timeout 20 ldd "$bin/loom_tests" 2>&1 | grep -F "not found" || echo "  none"
  } >"$logs/libraries.log" 2>&1
  note "libraries (LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}):"
  grep -E '^lib[a-zA-Z]+\.so' "$logs/libraries.log" | sed 's/^/    /; s/ (added its folder to LD_LIBRARY_PATH)/ (added)/' >>"$summary"
  grep -q "not found" "$logs/libraries.log" && note "    ldd: $(grep -F "not found" "$logs/libraries.log" | paste -sd ' ')"

  local sanitizer="" script_ok="" candidate sanitizer_missing="compute-sanitizer not found" sanitizer_checked=""
  sanitizer=$(command -v compute-sanitizer 2>/dev/null)
  for candidate in /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer; do
    [ -z "$sanitizer" ] && [ -x "$candidate" ] && sanitizer=$candidate
  done
  # script needs a pseudo-terminal, which a container may not give.
  command -v script >/dev/null && timeout 10 script -qec true /dev/null >/dev/null 2>&1 </dev/null && script_ok=1
  {
    echo "gpu: $(timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm \
      --format=csv,noheader 2>&1 | head -n 1)"
    echo "torch: $(timeout 60 python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda,
      "cudnn", torch.backends.cudnn.version(), "gpu", torch.cuda.is_available())' 2>&1 | tail -n 1)"
    echo "compute-sanitizer: ${sanitizer:-not found (looked on PATH and under /usr/local/cuda*)}"
    if [ -n "$script_ok" ]; then echo "script: $(command -v script)"; else
      echo "script: missing or cannot open a terminal: no tty steps"; fi
    echo "uname: $(uname -a)"
    timeout 20 nvidia-smi 2>&1
  } >"$logs/env.log" 2>&1
  timeout 30 python3 "$SUMMARIZE" env "$logs/env.log" >>"$summary" 2>&1
  pack

  steps

  current=""
  trap - TERM INT HUP
  finish
  [ ${#failed[@]} -eq 0 ]
}

# plan: the steps `run` would take, in its order, on a clock instead of the machine; the same step list and the same
# decisions, so the plan is what a run does when every step takes the time expected of it.
plan() {
  local first=${LOOM_GPU_SESSION_SECONDS:-$FIRST_CALL_SECONDS} second
  second=$(second_call_seconds "$first")
  local dry_run=1 clock=0 deadline=0 selection=() planned=() not_run=() failed=() step_rc=-1 budget=0
  local sanitizer=compute-sanitizer sanitizer_checked=1 sanitizer_missing="" script_ok=1
  local bin=bin logs=logs bundle=. summary=/dev/null
  walk() {  # walk DEADLINE STEP-GLOB...: `planned` and `not_run` of a call with that deadline and those globs
    deadline=$1 clock=$SETUP_SECONDS planned=() not_run=() selection=("${@:2}")
    steps
  }
  local -A call=()
  local entry name expected limit all=() rest=() beyond=() requested=()
  local first_sum=0 first_count=0 second_sum=0 second_count=0
  walk 1000000 '*'
  all=("${planned[@]}")
  walk "$first"
  for entry in "${planned[@]}"; do
    read -r name expected _ <<<"$entry"
    call[$name]=first
    first_sum=$((first_sum + expected)) first_count=$((first_count + 1))
  done
  rest=("${not_run[@]}")
  if [ ${#rest[@]} -gt 0 ]; then
    walk "$second" "${rest[@]}"
    for entry in "${planned[@]}"; do
      read -r name expected _ <<<"$entry"
      call[$name]=${call[$name]:+${call[$name]} and }second
      second_sum=$((second_sum + expected)) second_count=$((second_count + 1))
    done
    beyond=("${not_run[@]}")
  fi
  echo "gpu_session.sh run, planned (a step starts when its expected seconds are left before the deadline):"
  printf '%4s  %-18s %8s %6s  %s\n' "#" step expected limit call
  local i=0
  selection=()  # as in a run that names no step: what it leaves out is on request
  for entry in "${all[@]}"; do
    read -r name expected limit <<<"$entry"
    i=$((i + 1))
    if [ -z "${call[$name]:-}" ]; then
      if selected "$name"; then call[$name]="none: no room left"; else
        call[$name]="only when named"
        requested+=("$name")
      fi
    fi
    printf '%4d  %-18s %8d %6d  %s\n' "$i" "$name" "$expected" "$limit" "${call[$name]}"
  done
  echo "first call:  $first_count steps, $first_sum s expected + $SETUP_SECONDS s of setup =" \
    "$((first_sum + SETUP_SECONDS)) s of a ${first} s deadline (LOOM_GPU_SESSION_SECONDS)"
  if [ ${#rest[@]} -gt 0 ]; then
    echo "second call: $second_count steps (device_info again), $second_sum s expected + $SETUP_SECONDS s of setup =" \
      "$((second_sum + SETUP_SECONDS)) s of a ${second} s deadline:"
    echo "  $(next_call "$second" "${rest[@]}")"
    echo "device time: ${STARTUP_SECONDS} s of start-up + ${first} s + ${AFTER_CALL_SECONDS} s + ${second} s +" \
      "${AFTER_CALL_SECONDS} s = $((STARTUP_SECONDS + first + second + 2 * AFTER_CALL_SECONDS)) s of ${DEVICE_SECONDS} s" \
      "(the machine's start-up, the two calls' deadlines, the results coming back after each)"
  fi
  [ ${#beyond[@]} -gt 0 ] && echo "no room in either call: ${beyond[*]}"
  [ ${#requested[@]} -gt 0 ] && echo "only when named: ${requested[*]}   e.g. $(next_call "" "${requested[0]}")"
  return 0
}

case "${1:-}" in
  bundle) bundle ;;
  run)
    shift
    run "$@"
    ;;
  plan) plan ;;
  *) usage ;;
esac
