#!/usr/bin/env python3
"""The lines gpu_session.sh's summary keeps of one step: reads the step's log (and its JSON) and prints one to three
lines, each indented by four spaces and cut at 220 characters.

Usage: gpu_session_summary.py KIND LOG [JSON]
  device     device_info's JSON: the GPU, the driver and the libraries, any mismatch
  tests      a GoogleTest log: passed, failed (named), skipped; whether the run finished
  sanitizer  compute-sanitizer over GoogleTest: its ERROR SUMMARY, the count of reports and the first
  bench      bench_epoch's JSON: time per epoch and step, whether graphs replayed, memory, accuracy
  train      a training app's log: the last epoch's progress bar and the test accuracy
  tty        the same under a terminal, and how often the progress bar was redrawn
  resume     the resume check's verdict
  kernels    bench_kernels' JSON: each kernel's median time and share of the bandwidth
  compare    compare.py's table
  env        the machine's GPU, PyTorch, compute-sanitizer and script
  log        the log's last line
A missing or unreadable log or JSON gives the log's last line (or "(empty log)") instead; only the standard library
is used, so any Python 3 runs it.
"""
import json
import re
import sys

STRIP_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDEST = 220


def text(path):
    try:
        with open(path, errors="replace") as f:
            return STRIP_ANSI.sub("", f.read())
    except OSError:
        return ""


def lines(path):  # progress bars redraw with \r: every redraw is a line of its own here
    return [l.strip() for l in re.split(r"[\r\n]+", text(path)) if l.strip()]


def last_line(path):
    ls = lines(path)
    return ls[-1] if ls else "(empty log)"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def mib(n):
    return "n/a" if n is None else "%.1f MiB" % (n / 2**20)


def device(log, json_path):
    d = load(json_path)
    if d is None:
        return [last_line(log)]
    gpu = "%s (cc %s)" % (d["gpu_name"], d["compute_capability"]) if d["gpu_name"] else "no GPU"
    out = ["GPU %s, usable: %s%s" % (gpu, d["gpu_usable"], "" if d["gpu_usable"] else " (%s)" % d["reason"])]
    libs = []
    for name in ("cublas", "cublasLt", "cudnn"):
        lib = d.get(name, {})
        built = ", for CUDA %s" % lib["built_for_cuda"] if "built_for_cuda" in lib else ""
        libs.append("%s %s%s (compiled %s)" % (name, lib.get("loaded") or "NOT LOADED", built, lib.get("compiled")))
    out.append("driver CUDA %s, runtime %s; %s" % (d["driver_cuda_version"], d["cuda_runtime"], "; ".join(libs)))
    if d.get("mismatches"):
        out.append("MISMATCH: " + " | ".join(d["mismatches"]))
    return out


def googletest(log, sanitizer):
    ls = lines(log)
    ok = sum(1 for l in ls if l.startswith("[       OK ]"))
    failed = sorted({l.split()[3].rstrip(",") for l in ls
                     if l.startswith("[  FAILED  ]") and "(" in l and len(l.split()) > 3})
    skipped = sum(1 for l in ls if l.startswith("[  SKIPPED ]") and "ms)" in l)
    started = [l.split()[3] for l in ls if l.startswith("[ RUN      ]") and len(l.split()) > 3]
    finished = any(l.startswith("[  PASSED  ]") or l.startswith("[==========]") and "ran." in l for l in ls)
    counts = "%d passed, %d failed, %d skipped" % (ok, len(failed), skipped)
    if started and not finished:
        counts += "; DID NOT FINISH, last test started: " + started[-1]
    out = []
    if sanitizer:
        summary = [l.lstrip("= ").strip() for l in ls if "ERROR SUMMARY" in l]
        reports = [l.lstrip("= ").strip() for l in ls if re.match(r"=+\s+(Invalid|Program hit|Race reported|Leaked|"
                                                                   r"Error:|Uninitialized|Barrier|Misaligned)", l)]
        api = sum(1 for r in reports if r.startswith("Program hit"))
        out.append(("; ".join(summary) or "no ERROR SUMMARY line: " + last_line(log)) +
                   " (%d API-error reports, %d memory/race/leak reports)" % (api, len(reports) - api) +
                   ("" if not started else "; tests: " + counts))
        first = [r for r in reports if not r.startswith("Program hit")] or reports
        if first:
            out.append("first: " + first[0])
        return out
    out.append(counts)
    if failed:
        shown = ""
        for i, name in enumerate(failed):
            if len(shown) + len(name) > 190:
                shown += " +%d more (logs/tests.log)" % (len(failed) - i)
                break
            shown += " " + name
        out.append("FAILED:" + shown)
    if not started:
        out.append(last_line(log))
    return out


def bench(log, json_path):
    d = load(json_path)
    if d is None:
        return [last_line(log)]
    out = []
    graph = "cuda_graph %s" % d.get("cuda_graph")
    steps = d.get("graph_steps_per_epoch")
    if steps is not None:
        steps = sorted(set(steps)) if isinstance(steps, list) else [steps]
        graph += " (%s of %s steps replayed)" % ("/".join(map(str, steps)), d.get("steps_per_epoch"))
    if d.get("cuda_graph_failure"):
        out.append("GRAPH FAILURE: " + d["cuda_graph_failure"])
    out.append("%.2f ms/epoch median, %.1f us/step, %s, peak %s, growth %s B, accuracy %.3f" % (
        d["ms_per_epoch_median"], d["us_per_step"], graph, mib(d.get("peak_device_bytes")),
        d.get("device_memory_growth_bytes"), d.get("validation", {}).get("accuracy_after", float("nan"))))
    return out


def training(log, tty):
    ls = lines(log)
    bars = [l for l in ls if re.match(r"\d+/\d+ \[", l)]
    finals = [l for l in bars if re.match(r"(\d+)/\1 \[", l)]
    accuracy = [l for l in ls if l.startswith("Test accuracy")]
    out = []
    if tty:
        out.append("%d progress-bar redraws (the live monitor ran if more than one per epoch)" % len(bars))
    if finals:
        out.append(finals[-1])
    out.append(accuracy[-1] if accuracy else last_line(log))
    return out


def kernels(log, json_path):
    d = load(json_path)
    if d is None:
        return [last_line(log)]
    cells = ["%s %s %.1fus%s" % (k["kernel"], k["size"].replace(" ", ""), k["median_us"],
                                " %.0f%%" % (100 * k["fraction_of_bandwidth"]) if "fraction_of_bandwidth" in k
                                else "") for k in d["kernels"]]
    return ["; ".join(cells[:5]), "; ".join(cells[5:])]


def compare(log):
    table = [l for l in text(log).splitlines() if l.strip()]
    header = [i for i, l in enumerate(table) if l.startswith("model ")]
    return table[header[-1]:] if header else [last_line(log)]


def resume(log):
    return [l for l in lines(log) if l.startswith("resume ")] or [last_line(log)]


def env(log):
    return [l for l in lines(log) if l.startswith(("gpu:", "torch:", "compute-sanitizer:", "script:"))]


# KIND: (how many paths it reads, the LOG first; what it keeps of them)
KINDS = {
    "device": (2, device),
    "tests": (1, lambda log: googletest(log, sanitizer=False)),
    "sanitizer": (1, lambda log: googletest(log, sanitizer=True)),
    "bench": (2, bench),
    "train": (1, lambda log: training(log, tty=False)),
    "tty": (1, lambda log: training(log, tty=True)),
    "resume": (1, resume),
    "kernels": (2, kernels),
    "compare": (1, compare),
    "env": (1, env),
    "log": (1, lambda log: [last_line(log)]),
}


def main(argv):
    if len(argv) < 2 or argv[0] not in KINDS or len(argv) - 1 < KINDS[argv[0]][0]:
        print("usage: gpu_session_summary.py KIND LOG [JSON], KIND one of " + ", ".join(KINDS) +
              (" (%s reads a log and a JSON)" % argv[0] if argv and argv[0] in KINDS else ""), file=sys.stderr)
        sys.exit(2)
    paths, keep = KINDS[argv[0]]
    for l in keep(*argv[1:1 + paths]):
        print("    " + (l if len(l) <= WIDEST else l[:WIDEST - 3] + "..."))


if __name__ == "__main__":
    main(sys.argv[1:])
