#!/usr/bin/env bash
# benchmarks/gpu_session.sh's run and plan modes, on this machine without a GPU: a bundle whose programs are small
# bash stand-ins (loom_tests printing GoogleTest's lines, train_mlp and train_cnn writing safetensors-shaped files,
# predict, device_info writing its JSON, ...) goes through `run`, and the summary must say what the programs did. A
# step's status is its programs': train_mlp here crashes after saving when it resumes, which must fail resume_mlp
# although both saved models hold the same tensors, and two runs that save nothing must fail resume_cnn rather than
# compare equal. The steps must come in the plan's order, what a short run leaves out must be listed in that order
# with the command (and deadline) that runs just them, `report` must go to the next call with both training runs
# rather than fail for want of a model, and compute-sanitizer and a terminal for `script`, where this machine lacks
# them, make their steps "not run", not failed.
# Usage: gpu_session_cli.sh SOURCE_DIR   (the repository root whose benchmarks/gpu_session.sh is checked)
set -u
source_dir=$1
name=gpu_session.sh
source "$(dirname "$0")/cli_support.sh"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# --- The bundle, as `bundle` lays it out.
bundle=$scratch/gpu_bundle
stubs=$scratch/stubs
mkdir -p "$bundle/bin" "$bundle/data" "$bundle/benchmarks" "$stubs"
cp "$source_dir/benchmarks/gpu_session.sh" "$source_dir/benchmarks/gpu_session_summary.py" \
  "$source_dir/benchmarks/compare.py" "$source_dir/benchmarks/pytorch_reference.py" \
  "$source_dir/benchmarks/reference_files.py" "$bundle/benchmarks/"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  printf 'stand-in\n' | gzip -c >"$bundle/data/$f"
done
printf 'commit stand-in, built now\nchanged since the commit: 0 file(s)\n' >"$bundle/BUILD_INFO"
echo "Stub.One:Stub.Two" >"$bundle/gpu_tests.filter"

cat >"$stubs/device_info" <<'SH'
#!/usr/bin/env bash
while [ $# -gt 0 ]; do
  [ "$1" = --json ] && json=$2
  shift
done
[ -n "${json:-}" ] && cat >"$json" <<'JSON'
{"gpu_name": "Stand-in GPU", "compute_capability": "9.0", "gpu_usable": true, "reason": "",
 "driver_cuda_version": "13.0", "cuda_runtime": "13.0",
 "cublas": {"loaded": "13.0.0", "compiled": "13.0.0"}, "cublasLt": {"loaded": "13.0.0", "compiled": "13.0.0"},
 "cudnn": {"loaded": "9.13.0", "compiled": "9.13.0"}, "mismatches": []}
JSON
echo "GPU: Stand-in GPU"
SH
cat >"$stubs/loom_tests" <<'SH'
#!/usr/bin/env bash
echo "[==========] Running 2 tests from 1 test suite."
for t in One Two; do
  echo "[ RUN      ] Stub.$t"
  echo "[       OK ] Stub.$t (0 ms)"
done
echo "[==========] 2 tests from 1 test suite ran. (0 ms total)"
echo "[  PASSED  ] 2 tests."
SH
# The training apps: the header of a saved model describes the run (a resumed run's differs, in length too), the
# tensors depend on the model, the epochs and the steps only. STUB_SAVE=nothing: --save writes no file;
# STUB_SAVE=header: the header alone.
cat >"$stubs/train" <<'SH'
#!/usr/bin/env bash
model=${0##*/train_} epochs=1 steps=1875 save="" checkpoint="" resume=""
while [ $# -gt 0 ]; do
  case $1 in
    --epochs) epochs=$2 ;;
    --steps-per-epoch) steps=$2 ;;
    --save) save=$2 ;;
    --checkpoint) checkpoint=$2 ;;
    --resume) resume=$2 ;;
    --report | --history) : >"$2" ;;
  esac
  shift
done
write_model() {  # write_model FILE RUN [STUB_SAVE]
  [ "${3:-}" = nothing ] && return 0
  local header="{\"__metadata__\":{\"run\":\"$2\"}}"
  printf "\\$(printf '%03o' ${#header})\\0\\0\\0\\0\\0\\0\\0%s" "$header" >"$1"
  [ "${3:-}" = header ] && return 0
  printf 'tensors of %s: %s epochs of %s steps' "$model" "$epochs" "$steps" >>"$1"
}
if [ -n "$resume" ]; then
  [ -f "$resume" ] || { echo "train_$model: --resume: no file '$resume'" >&2; exit 2; }
  echo "Resuming from '$resume' after epoch $((epochs - 1))"
fi
for ((e = 1; e <= epochs; e++)); do
  echo "Epoch $e/$epochs"
  echo "$steps/$steps [==============================] - loss: 0.5000 - accuracy: 0.8000"
done
printf '\nTest accuracy: 0.8800\n'
[ -n "$checkpoint" ] && write_model "$checkpoint" "checkpoint of train_$model"
[ -n "$save" ] && write_model "$save" "train_$model${resume:+ --resume $resume}" "${STUB_SAVE:-}"
CRASH_ON_RESUME
exit 0
SH
# train_mlp crashes once its weights are saved when it resumes; train_cnn does not.
# shellcheck disable=SC2016  # $resume and $$ are the stub's
sed 's/^CRASH_ON_RESUME$/[ -n "$resume" ] \&\& kill -SEGV $$/' "$stubs/train" >"$stubs/train_mlp"
# shellcheck disable=SC2016  # $resume and $$ are the stub's
sed 's/^CRASH_ON_RESUME$//' "$stubs/train" >"$stubs/train_cnn"
rm "$stubs/train"
# predict does not look at its model, so that a model file that is missing or holds no tensors is left for the
# comparison of the tensor bytes to find.
cat >"$stubs/predict" <<'SH'
#!/usr/bin/env bash
echo "t10k-images-idx3-ubyte.gz[0]: Ankle boot (0.9500)"
SH
for program in report bench_epoch bench_kernels; do
  printf '#!/usr/bin/env bash\necho "%s: stand-in"\n' "$program" >"$stubs/$program"
done
chmod +x "$stubs"/*
for program in "$stubs"/*; do
  if command -v xz >/dev/null; then
    xz -c "$program" >"$bundle/bin/$(basename "$program").xz"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(open(sys.argv[1], "rb"), lzma.open(sys.argv[2], "wb"))' \
      "$program" "$bundle/bin/$(basename "$program").xz"
  fi
done

# What this machine lacks, as gpu_session.sh looks for it.
sanitizer_here=""
command -v compute-sanitizer >/dev/null && sanitizer_here=1
for candidate in /usr/local/cuda*/bin/compute-sanitizer /usr/local/cuda*/compute-sanitizer/compute-sanitizer; do
  [ -x "$candidate" ] && sanitizer_here=1
done
script_here=""
command -v script >/dev/null && timeout 10 script -qec true /dev/null >/dev/null 2>&1 </dev/null && script_here=1

# session NAME [VAR=VALUE...] -- ARGS...: runs `gpu_session.sh run OUT ARGS` with those variables; its output in
# $scratch/NAME.out, its summary in $scratch/NAME/summary.txt, its exit status in $rc.
session() {
  local label=$1
  shift
  local settings=()
  while [ "$1" != -- ]; do
    settings+=("$1")
    shift
  done
  shift
  env "${settings[@]}" bash "$bundle/benchmarks/gpu_session.sh" run "$scratch/$label" "$@" >"$scratch/$label.out" 2>&1
  rc=$?
  summary=$scratch/$label/summary.txt
  if [ ! -s "$summary" ]; then
    fail "run $*: no summary; its output: $(tail -n 20 "$scratch/$label.out")"
    return 1
  fi
}
# step_line STEP: the summary's line for STEP.
step_line() { grep -E "^$1 +(exit |not run|TIMED OUT)" "$summary"; }
# check_step STEP REGEX WHAT: STEP's summary line must match REGEX.
check_step() {
  local line
  line=$(step_line "$1")
  if [[ $line =~ $2 ]]; then
    echo "ok: $1 $3: $line"
  else
    fail "$1 should have $3; its line: '${line:-none}'"
  fi
}
summary_has() {  # summary_has TEXT WHAT
  if grep -qF -- "$1" "$summary"; then echo "ok: the summary $2"; else fail "not in the summary: '$1' (it $2)"; fi
}

# --- The plan, which every run below must follow.
start=$SECONDS
plan=$scratch/plan.out
if ! bash "$bundle/benchmarks/gpu_session.sh" plan >"$plan" 2>&1; then
  fail "plan failed: $(head -n 5 "$plan")"
fi
plan_steps=$(awk '$1 ~ /^[0-9]+$/ && NF >= 5 { print $2 }' "$plan" | tr '\n' ' ')
call_of() { awk -v s="$1" '$1 ~ /^[0-9]+$/ && $2 == s { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' "$plan"; }
want="tests memcheck_tests racecheck_tests tty_mlp tty_cnn resume_mlp resume_cnn bench_mlp_graph bench_cnn_graph"
want+=" train_mlp train_cnn report compare"
rest=" $plan_steps" ordered=yes
for s in device_info $want; do
  if [[ $rest == *" $s "* ]]; then rest=" ${rest#*" $s "}"; else
    fail "plan: $s is missing or out of order in: $plan_steps"
    ordered=""
    break
  fi
done
[ -n "$ordered" ] && echo "ok: plan orders device_info $want"
for s in $want; do
  case $s in compare) expected_call=second ;; *) expected_call=first ;; esac
  [ "$(call_of "$s")" = "$expected_call" ] || fail "plan: $s should be in the $expected_call call: '$(call_of "$s")'"
done
[ "$(call_of train_best)" = "only when named" ] || fail "plan: train_best should run only when named"
# shellcheck disable=SC2016  # "$OUT" as the command line says it
second_line=$(grep -E '^  LOOM_GPU_SESSION_SECONDS=[0-9]+ bash gpu_bundle/benchmarks/gpu_session.sh run "\$OUT" ' "$plan")
second_steps=$(awk '$1 ~ /^[0-9]+$/ && $5 == "second" { printf " %s", $2 }' "$plan")
if [ -n "$second_line" ] && [[ $second_line == *"\"\$OUT\"$second_steps" ]]; then
  echo "ok: plan gives the second call's command:$second_line"
else
  fail "plan: no second-call command running just the second call's steps ($second_steps): '$second_line'"
fi
first_total=$(sed -n 's/^first call: .* = \([0-9]*\) s of a \([0-9]*\) s deadline.*/\1 \2/p' "$plan")
read -r used deadline <<<"$first_total"
if [ -n "${used:-}" ] && [ "$used" -le "$deadline" ]; then echo "ok: plan's first call: $used s of $deadline"; else
  fail "plan: the first call's total is missing or over its deadline: '$first_total'"
fi

# --- The steps that make sense with stand-ins; train_mlp crashes when it resumes.
session named LOOM_GPU_SESSION_SECONDS=400 -- device_info tests memcheck_tests racecheck_tests 'tty_*' 'resume_*'
if [ -n "${summary:-}" ] && [ -s "$summary" ]; then
  if [ "$rc" -ne 0 ]; then echo "ok: run exits $rc after a failed step"; else
    fail "run exited 0 although resume_mlp crashed"; fi
  check_step device_info "exit 0" "passed"
  summary_has "GPU Stand-in GPU (cc 9.0), usable: True" "reads device_info's JSON"
  check_step tests "exit 0" "passed"
  summary_has "2 passed, 0 failed, 0 skipped" "counts the tests"
  check_step resume_mlp "exit [1-9]" "failed (train_mlp crashed resuming, after saving)"
  summary_has "resume mlp: FAILED: resumed (train_mlp) exited with 139" "says which program failed, and how"
  grep -q "^failed or timed out: .*resume_mlp" "$summary" || fail "resume_mlp is not listed as failed"
  check_step resume_cnn "exit 0" "passed (every program succeeded, the same tensors saved)"
  summary_has "resume cnn: bit-identical" "says the resumed CNN saved the same tensors"
  for s in memcheck_tests racecheck_tests; do
    if [ -z "$sanitizer_here" ]; then check_step "$s" "not run: compute-sanitizer not found" "not run"; else
      check_step "$s" "exit 0|not run" "passed or not run (compute-sanitizer is here, the GPU is not)"
    fi
  done
  for s in tty_mlp tty_cnn; do
    if [ -n "$script_here" ]; then check_step "$s" "exit 0" "passed under script"; else
      check_step "$s" "not run: util-linux script" "not run (no script or no terminal here)"
    fi
  done
  order=$(grep -oE '^[a-z_]+ +(exit |not run|TIMED OUT)' "$summary" | awk '{ print $1 }' | tr '\n' ' ')
  want_order="device_info tests memcheck_tests racecheck_tests tty_mlp tty_cnn resume_mlp resume_cnn "
  if [ "$order" = "$want_order" ]; then echo "ok: steps in the plan's order: $order"; else
    fail "the steps should come as '$want_order', not '$order'"; fi
  if tar tzf "$scratch/named/results.tar.gz" 2>/dev/null | grep -q "logs/resume_mlp.log"; then
    echo "ok: results.tar.gz holds the steps' logs"
  else
    fail "results.tar.gz is missing or lacks logs/resume_mlp.log"
  fi
fi

# --- Both runs save nothing, or headers without tensors: two missing or empty models are not the same model.
for saved in nothing header; do
  session "saved_$saved" STUB_SAVE=$saved LOOM_GPU_SESSION_SECONDS=400 -- resume_cnn
  if [ -n "${summary:-}" ] && [ -s "$summary" ]; then
    if [ "$rc" -ne 0 ]; then echo "ok: run exits $rc"; else
      fail "run exited 0 although no run saved tensors (--save: $saved)"; fi
    check_step resume_cnn "exit [1-9]" "failed (--save wrote $saved)"
    case $saved in
      nothing) summary_has "resume cnn: FAILED: r.st was not written" "says the model is missing" ;;
      header) summary_has "resume cnn: FAILED: r.st holds no tensor bytes after its header" "says it holds no tensors" ;;
    esac
  fi
done

# --- A default run whose deadline holds device_info alone: what it leaves out, in the plan's order, with the command
# for a second call and the deadline left for it.
session short LOOM_GPU_SESSION_SECONDS=10 --
if [ -n "${summary:-}" ] && [ -s "$summary" ]; then
  left_out=$(sed -n 's/^left for the next call: //p' "$summary")
  in_plan_order=$(for s in $plan_steps; do [[ " $left_out " == *" $s "* ]] && printf '%s ' "$s"; done)
  if [ -n "$left_out" ] && [ "$in_plan_order" = "$left_out " ] && [[ " $left_out " == *" train_cnn_tf32 "* ]]; then
    echo "ok: left out, in the plan's order: $left_out"
  else
    fail "the steps left out should be listed in the plan's order: '$left_out' (plan: $plan_steps)"
  fi
  if grep -qE "^  LOOM_GPU_SESSION_SECONDS=[0-9]+ bash gpu_bundle/benchmarks/gpu_session.sh run \"\\\$OUT\" $left_out\$" \
    "$summary"; then
    echo "ok: the summary gives the second call's command with its deadline"
  else
    fail "no second-call command with LOOM_GPU_SESSION_SECONDS for '$left_out': $(grep -A2 '^left for the next call' "$summary")"
  fi
  if grep -q "^only when named.*train_best" "$summary"; then echo "ok: the summary names the steps run only on request"
  else fail "the summary does not name train_best as run only when named"; fi
fi

# --- A default run with time for train_mlp (20 s expected) but not train_cnn (60 s): `report`, which reads both
# models, is left for the next call with both of them, rather than failing here.
session split LOOM_GPU_SESSION_SECONDS=45 --
if [ -n "${summary:-}" ] && [ -s "$summary" ]; then
  if ! step_line train_mlp | grep -q "exit 0"; then
    echo "skipped: the report's deferral (setup took too long here for train_mlp to fit in 45 s)"
  else
    check_step report "not run: it needs the models of train_mlp and train_cnn" "not run (left for the next call)"
    next=$(grep -E '^  LOOM_GPU_SESSION_SECONDS=[0-9]+ bash ' "$summary")
    if [[ "$next " == *" train_cnn "* && "$next " == *" train_mlp "* && "$next " == *" report "* ]]; then
      echo "ok: the next call runs train_cnn, train_mlp again and report"
    else
      fail "the next call should run train_cnn, train_mlp and report: $(grep -A2 '^left for the next call' "$summary")"
    fi
    # resume_mlp's train_mlp crashes on purpose; every other stand-in succeeds.
    grep -q "^failed or timed out: resume_mlp$" "$summary" ||
      fail "only resume_mlp should fail: $(grep '^failed' "$summary")"
  fi
fi

echo "$failures failure(s) ($((SECONDS - start)) s)"
[ "$failures" -eq 0 ]
