#!/usr/bin/env bash
# The HTML report as users make it: train_mlp --report after a run with a validation split (its history and weights
# written first), then the report app putting that MLP run beside a narrow CNN's checkpoint. Every section must be in
# each file, both runs in the combined one, and headless Chromium must draw both (report_screenshot_check: the size
# asked for, not blank, the red and blue of the predictions). Bad paths and flags end with one line and exit 2, a
# damaged input with exit 1, and a report that cannot be written loses none of the run's other files.
# Usage: report_cli.sh REPORT TRAIN_MLP TRAIN_CNN REPORT_SCREENSHOT_CHECK   (exit 77: skipped, no data set)
set -u
report=$1
train_mlp=$2
train_cnn=$3
screenshot_check=$4
name=report
program=$report
source "$(dirname "$0")/cli_support.sh"
data=$(fashion_mnist_or_skip) || exit 77
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

sections=(data curves epochs accuracy confusion predictions mistakes model)
# has_sections FILE: every section of the report is in FILE once.
has_sections() {
  local section
  for section in "${sections[@]}"; do
    if [ "$(grep -c "<section id=\"$section\">" "$1")" -ne 1 ]; then
      fail "$1 lacks the section '$section'"
      return 1
    fi
  done
  echo "ok: $(basename "$1") has every section"
}

# rendered HTML: Chromium draws it (skipped, saying so, without Chromium).
rendered() {
  local out rc
  out=$("$screenshot_check" "$1" "${1%.html}.png" 1280 6000 2>&1)
  rc=$?
  case $rc in
    0) echo "ok: Chromium draws $(basename "$1"): $out" ;;
    77) echo "SKIPPED (rendering only): $out" ;;
    *) fail "Chromium's screenshot of $1: $out" ;;
  esac
}

# --- train_mlp --report: the documented command (docs/CLI.md), one epoch shorter.
mlp_args=(--device cpu --epochs 2 --validation-split 0.1 --data "$data")
start=$SECONDS
if "$train_mlp" "${mlp_args[@]}" --save "$scratch/mlp.safetensors" --history "$scratch/mlp.csv" \
    --report "$scratch/mlp.html" >"$scratch/mlp.out" 2>"$scratch/mlp.err"; then
  echo "ok: train_mlp --report ($((SECONDS - start)) s)"
  grep -q "^Report written to '$scratch/mlp.html'$" "$scratch/mlp.out" ||
    fail "train_mlp did not say it wrote the report"
  has_sections "$scratch/mlp.html"
  accuracy=$(sed -n 's/^Test accuracy: //p' "$scratch/mlp.out")
  grep -q "<td>$accuracy</td>" "$scratch/mlp.html" ||
    fail "mlp.html lacks the test accuracy $accuracy train_mlp printed"
  grep -q "<th>--validation-split</th><td>0.1</td>" "$scratch/mlp.html" || fail "mlp.html lacks the run's flags"
  grep -q "points\? \(below\|above\|apart\)" "$scratch/mlp.html" || fail "mlp.html does not state the accuracy gap"
  rendered "$scratch/mlp.html"
else
  fail "train_mlp ${mlp_args[*]} --report failed: $(cat "$scratch/mlp.err")"
fi

# --report's paths are checked before anything is trained; a report never replaces an input or another output.
program=$train_mlp
name=train_mlp
expect 2 "--report: report '$scratch/r.txt' must end in .html or .htm" --device cpu --report "$scratch/r.txt"
expect 2 "--report: report '$scratch/none/r.html': cannot write into" --device cpu --report "$scratch/none/r.html"
mkdir "$scratch/d.html"
expect 2 "--report: report '$scratch/d.html' exists and is not a regular file" --device cpu --report "$scratch/d.html"
expect 2 "--save and --report name the same file" --device cpu --save "$scratch/x.html" --report "$scratch/x.html"
cp "$scratch/mlp.safetensors" "$scratch/model.html"
expect 2 "--report would replace the file '$scratch/model.html' that --load reads" --device cpu \
  --load "$scratch/model.html" --report "$scratch/model.html"
# The report's folder vanishes during training, once the first epoch's history is written (after the checks, which
# pass): the history and the weights are written all the same, and the report's failure is one line and exit 1.
# (Moved away rather than made read-only, which root, as CI runs, would write through.) The run stops early, so its
# weights are the best epoch's, which the report app below must say.
mkdir "$scratch/going"
"$train_mlp" --device cpu --epochs 2 --validation-split 0.1 --early-stopping 1 --data "$data" \
  --history "$scratch/kept.json" --save "$scratch/kept.safetensors" --report "$scratch/going/r.html" \
  >/dev/null 2>"$scratch/going.err" &
trainer=$!
for _ in $(seq 600); do
  [ -s "$scratch/kept.json" ] && break
  sleep 0.1
done
mv "$scratch/going" "$scratch/gone"
wait "$trainer"
rc=$?
if [ "$rc" -ne 1 ] || [ "$(wc -l <"$scratch/going.err")" -ne 1 ] ||
    ! grep -q "cannot write '$scratch/going/r.html'" "$scratch/going.err"; then
  fail "a report that cannot be written: exit $rc, stderr $(cat "$scratch/going.err")"
elif [ ! -s "$scratch/kept.json" ] || [ ! -s "$scratch/kept.safetensors" ]; then
  fail "a report that cannot be written lost the history or the weights"
else
  echo "ok: a report that cannot be written keeps the history and the weights: $(cat "$scratch/going.err")"
fi

# --- the report app: the MLP's weights and CSV history beside a narrow CNN's checkpoint (its history inside).
start=$SECONDS
if "$train_cnn" --device cpu --epochs 2 --filters 4 --dense 16 --validation-split 0.1 --data "$data" \
    --checkpoint "$scratch/cnn.safetensors" --report "$scratch/cnn.html" >"$scratch/cnn.out" 2>"$scratch/cnn.err"; then
  echo "ok: train_cnn --filters 4 --dense 16 --checkpoint --report ($((SECONDS - start)) s)"
  has_sections "$scratch/cnn.html"  # the CNN takes images [n, 28, 28, 1]
else
  fail "train_cnn --checkpoint --report failed: $(cat "$scratch/cnn.err")"
fi
program=$report
name=report
start=$SECONDS
if "$report" --run "$scratch/mlp.safetensors" "$scratch/mlp.csv" --run "$scratch/cnn.safetensors" --name MLP \
    --name "CNN <4 filters>" --device cpu --data "$data" -o "$scratch/both.html" >"$scratch/both.out" \
    2>"$scratch/both.err"; then
  echo "ok: report --run MLP --run CNN ($((SECONDS - start)) s): $(tr '\n' ' ' <"$scratch/both.out")"
  has_sections "$scratch/both.html"
  grep -q '<th colspan="5">MLP</th>' "$scratch/both.html" || fail "both.html's epoch table lacks the MLP's columns"
  grep -q '<th colspan="5">CNN &lt;4 filters&gt;</th>' "$scratch/both.html" ||
    fail "both.html's epoch table lacks the CNN's columns (or its name is not escaped)"
  grep -q "MLP val_loss" "$scratch/both.html" && grep -q "CNN &lt;4 filters&gt; val_loss" "$scratch/both.html" ||
    fail "both.html's curves lack a run's validation loss"
  grep -q "<th>history</th><td>from the checkpoint</td>" "$scratch/both.html" || fail "the CNN's history source"
  grep -q "<th>program</th><td>train_cnn</td>" "$scratch/both.html" || fail "the CNN's settings from its file"
  mlp_accuracy=$(sed -n 's/^MLP: test accuracy \([0-9.]*\),.*/\1/p' "$scratch/both.out")
  [ "$mlp_accuracy" = "$accuracy" ] || fail "report evaluated the MLP to $mlp_accuracy, train_mlp to $accuracy"
  rendered "$scratch/both.html"
else
  fail "report --run MLP --run CNN failed: $(cat "$scratch/both.err")"
fi

# A JSON history, the best epoch's weights, and a weights file without its history.
if "$report" --run "$scratch/kept.safetensors" "$scratch/kept.json" --run "$scratch/mlp.safetensors" --device cpu \
    --data "$data" -o "$scratch/more.html" >"$scratch/more.out" 2>"$scratch/more.err"; then
  grep -q "(best, restored)" "$scratch/more.html" || fail "more.html does not say the weights are the best epoch's"
  grep -q "no training history was given" "$scratch/more.html" || fail "more.html does not say mlp has no history"
  grep -q '<th colspan="5">kept</th>' "$scratch/more.html" || fail "more.html lacks kept's epochs from its JSON"
  echo "ok: report with a JSON history and a weights file alone"
else
  fail "report --run kept.safetensors kept.json --run mlp.safetensors failed: $(cat "$scratch/more.err")"
fi

m=$scratch/mlp.safetensors
# A history that is not the run's own is refused, not drawn conclusions from: another run's beside a checkpoint
# (which holds its own), and beside a weights file, one of another length and one of the same length whose last
# loss is not the one the weights file records.
expect 2 "^report: --run: the history '$scratch/mlp.csv' \(2 epochs\) is not the one of '$scratch/cnn.safetensors': $(
  )its epoch 1 differs from the checkpoint's" --run "$scratch/cnn.safetensors" "$scratch/mlp.csv" --device cpu \
  --data "$data" -o "$scratch/x.html"
head -n 2 "$scratch/mlp.csv" >"$scratch/one.csv"
expect 2 "^report: --run: the history '$scratch/one.csv' \(1 epoch\) is not the one of '$scratch/mlp.safetensors': $(
  )that run trained 2 epochs" --run "$scratch/mlp.safetensors" "$scratch/one.csv" --device cpu --data "$data" \
  -o "$scratch/x.html"
sed '$ s/^\(1,[^,]*,\)[^,]*/\10.123/' "$scratch/mlp.csv" >"$scratch/other.csv"
expect 2 "^report: --run: the history '$scratch/other.csv' \(2 epochs\) is not the one of $(
  )'$scratch/mlp.safetensors': that run's last epoch had a loss of .*, the history's 0.123" \
  --run "$scratch/mlp.safetensors" "$scratch/other.csv" --device cpu --data "$data" -o "$scratch/x.html"
expect 2 "^report: --run is an empty path$" --run "" -o "$scratch/x.html"
expect 2 "^report: --run is an empty path$" --run "$m" "" -o "$scratch/x.html"

# A FIFO as the history is refused at once, never waited on (a hang fails after 20 s instead of blocking the suite).
mkfifo "$scratch/fifo.csv"
printf '#!/bin/sh\nexec timeout 20 "%s" "$@"\n' "$report" >"$scratch/report_within_20s"
chmod +x "$scratch/report_within_20s"
program=$scratch/report_within_20s
expect 2 "^report: history file '$scratch/fifo.csv': is a FIFO, not a file$" --run "$m" "$scratch/fifo.csv" \
  --device cpu --data "$data" -o "$scratch/x.html"
program=$report

# The report's own bad usage and bad files.
expect 2 "--run is required" -o "$scratch/x.html"
expect 2 "--output is required" --run "$m"
expect 2 "report '$scratch/x.pdf' must end in .html or .htm" --run "$m" -o "$scratch/x.pdf"
expect 2 "--run takes a model file and, optionally, its history file, got 3 files" --run "$m" a b -o "$scratch/x.html"
expect 2 "--run: no file '$scratch/missing.safetensors'" --run "$scratch/missing.safetensors" \
  -o "$scratch/x.html"
expect 2 "--name given once for 2 runs" --run "$m" --run "$m" --name A -o "$scratch/x.html"
expect 2 "--name 'A' is given twice" --run "$m" --run "$m" --name A --name A -o "$scratch/x.html"
expect 2 "--output would replace the file '$scratch/model.html' that --run reads" --run "$scratch/model.html" \
  -o "$scratch/model.html"
expect 2 "--batch-size must be a whole number from 1 to" --run "$m" --batch-size 0 -o "$scratch/x.html"
expect 2 "--batch-size must be a whole number from 1 to" --run "$m" --batch-size 0x20 -o "$scratch/x.html"
expect 2 "--run: history file '$scratch/mlp.txt' must end in .csv or .json" --run "$m" "$scratch/mlp.txt" \
  -o "$scratch/x.html"
{
  head -n 2 "$scratch/mlp.csv"
  echo "1,0.5"
} >"$scratch/bad.csv"
expect 1 "$scratch/bad.csv" --run "$m" "$scratch/bad.csv" --device cpu --data "$data" -o "$scratch/x.html"
head -c 1000 "$m" >"$scratch/cut.safetensors"
# Without --device: where auto falls back to the CPU, its note must not come before the error.
expect 1 "safetensors file '$scratch/cut.safetensors'" --run "$scratch/cut.safetensors" --data "$data" \
  -o "$scratch/x.html"
[ ! -e "$scratch/x.html" ] || fail "a failed report run left $scratch/x.html behind"

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
