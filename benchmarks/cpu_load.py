#!/usr/bin/env python3
"""How much a busy machine slows CPU training: loom (at its default thread count and at one thread), PyTorch (eager,
one thread per usable core) and Keras/TensorFlow (its default pools) train the Fashion-MNIST MLP and CNN on a quiet
machine and beside pure-Python busy loops pinned to the first cores, in interleaved rounds.

    python3 benchmarks/cpu_load.py --busy-cores 1 --rounds 3 --json cpu_load.json

Each run is one process of bench_epoch, pytorch_reference.py or keras_reference.py, which validates its training,
warms up one epoch and times --epochs more; the busy loops start before a run and are killed after it. Within a round
every configuration runs once, in the same order; rounds alternate quiet and busy. The tables give the median
microseconds per step of each configuration, quiet and busy, and the busy/quiet ratio of the medians.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time

from reference_files import NOT_INSTALLED, cpu_name

HERE = os.path.dirname(os.path.abspath(__file__))
KERAS = os.path.join(HERE, "keras_reference.py")
TORCH = os.path.join(HERE, "pytorch_reference.py")
# Spins on one core; stops quietly on Ctrl-C, and by itself should this script die without killing it.
BUSY_LOOP = """import os, sys
os.sched_setaffinity(0, {int(sys.argv[1])})
try:
    while os.getppid() == int(sys.argv[2]):
        for _ in range(1000000):
            pass
except KeyboardInterrupt:
    pass
"""


def python_with(module, candidates):
    """The first of the candidate interpreters that imports the module, or None: Debian's python3-torch installs into
    the system Python, TensorFlow usually into another, and neither need be the python3 first on PATH."""
    seen = set()
    for candidate in candidates:
        if not candidate or candidate in seen:
            continue
        seen.add(candidate)
        if imports(candidate, module):
            return candidate
    return None


def imports(python, module):
    if not os.access(python, os.X_OK):
        return False
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).returncode == 0


def run_json(command):
    """Runs one benchmark and returns the last JSON object it printed; raises RuntimeError naming the command."""
    print("+ " + shlex.join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        why = " (TensorFlow is not installed for it)" if command[1:2] == [KERAS] and \
            done.returncode == NOT_INSTALLED else ""
        raise RuntimeError(f"{shlex.join(command)} exited with {done.returncode}{why}")
    # bench_epoch prints one indented object, pytorch_reference.py one object a line.
    decoder, text, position, objects = json.JSONDecoder(), done.stdout, 0, []
    try:
        while text[position:].strip():
            position += len(text[position:]) - len(text[position:].lstrip())
            value, position = decoder.raw_decode(text, position)
            objects.append(value)
    except ValueError:
        raise RuntimeError(f"{shlex.join(command)} printed something other than JSON")
    if not objects or "us_per_step" not in objects[-1]:
        raise RuntimeError(f"{shlex.join(command)} printed no result with us_per_step")
    return objects[-1]


class BusyLoops:
    """One pure-Python busy loop per given core while the block runs; always killed on the way out."""

    def __init__(self, cores):
        self.cores, self.processes = cores, []

    def __enter__(self):
        try:
            for core in self.cores:
                self.processes.append(
                    subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(core), str(os.getpid())]))
        except BaseException:
            self.__exit__()
            raise
        time.sleep(0.1)  # let each loop pin itself and spin before the run starts
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()
        self.processes = []
        return False


def configurations(args, bench, cores):
    """(key, label, command for a model and step count), in the order every round runs them."""
    data = ["--data", args.data] if args.data else []

    def common(model, steps):
        return ["--model", model, "--epochs", str(args.epochs), "--max-steps", str(steps)] + data

    configs = [
        ("loom_default", "loom default", lambda m, s: [bench, "--device", "cpu"] + common(m, s)),
        ("loom_1", "loom 1 thread", lambda m, s: [bench, "--device", "cpu", "--threads", "1"] + common(m, s)),
    ]
    if args.python_torch:
        # Debian's PyTorch defaults to one thread; every usable core is the fair match for loom's default.
        configs.append(("torch", f"PyTorch {cores} threads",
                        lambda m, s: [args.python_torch, TORCH, "--mode", "eager", "--device", "cpu",
                                      "--threads", str(cores)] + common(m, s)))
    if args.python_tf:
        configs.append(("keras", "Keras/TF default", lambda m, s: [args.python_tf, KERAS] + common(m, s)))
    return configs


def median_cell(values):
    return f"{statistics.median(values):.0f} ({', '.join(f'{v:.0f}' for v in values)})"


def ratio(numerator, denominator):
    return f"{numerator / denominator:.2f}x"


def report(args, machine, configs, runs, notes):
    """The Markdown report: a header, then per model a table of the configurations and the key ratios."""
    steps = " and ".join(f"{args.mlp_steps if m == 'mlp' else args.cnn_steps} {m.upper()}" for m in args.models)
    lines = [f"# CPU training under load: {machine['cpu']}, {machine['usable_cores']} usable cores",
             "",
             f"- busy: {len(machine['busy_cores'])} pure-Python busy loop(s) pinned to core(s) "
             f"{', '.join(map(str, machine['busy_cores']))}",
             f"- {args.rounds} round(s), each quiet then busy; {args.epochs} timed epoch(s) a run after one warm-up; "
             f"{steps} steps of 32 an epoch"]
    frameworks = sorted({r["result"]["framework"] for r in runs if "framework" in r["result"]})
    if frameworks:
        lines.append(f"- {'; '.join(frameworks)}")
    lines += [f"- {key}={value} (loom's default thread count follows it)"
              for key, value in machine["thread_environment"].items()]
    lines += [f"- {note}" for note in notes]
    for model in args.models:
        us = {(key, load): [r["result"]["us_per_step"] for r in runs
                            if r["model"] == model and r["config"] == key and r["load"] == load]
              for key, _, _ in configs for load in ("quiet", "busy")}
        med = {k: statistics.median(v) for k, v in us.items()}
        lines += ["", f"## {model}", "",
                  "| configuration | quiet µs/step, median (runs) | busy µs/step, median (runs) | busy/quiet |",
                  "|---|---:|---:|---:|"]
        for key, label, _ in configs:
            threads = [r["result"].get("cpu_threads") for r in runs if r["model"] == model and r["config"] == key]
            if key == "loom_default" and threads and threads[0]:
                label += f" ({threads[0]} threads)"
            lines.append(f"| {label} | {median_cell(us[key, 'quiet'])} | {median_cell(us[key, 'busy'])} | "
                         f"{ratio(med[key, 'busy'], med[key, 'quiet'])} |")
        lines += ["",
                  f"- loom 1 thread / loom default (above 1: the default is faster): quiet "
                  f"{ratio(med['loom_1', 'quiet'], med['loom_default', 'quiet'])}, busy "
                  f"{ratio(med['loom_1', 'busy'], med['loom_default', 'busy'])}"]
        if ("keras", "quiet") in med:
            lines.append(f"- Keras/TF quiet / loom default quiet (above 1: loom is faster): "
                         f"{ratio(med['keras', 'quiet'], med['loom_default', 'quiet'])}")
        if ("torch", "quiet") in med:
            lines.append(f"- busy/quiet, PyTorch vs loom default: "
                         f"{ratio(med['torch', 'busy'], med['torch', 'quiet'])} vs "
                         f"{ratio(med['loom_default', 'busy'], med['loom_default', 'quiet'])}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--bench", help="the bench_epoch binary (default: BUILD_DIR/benchmarks/bench_epoch)")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--busy-cores", type=int, default=1,
                        help="busy loops, one pinned to each of the first K usable cores")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every configuration, quiet and busy each")
    parser.add_argument("--mlp-steps", type=int, default=1000, help="MLP steps an epoch")
    parser.add_argument("--cnn-steps", type=int, default=200, help="CNN steps an epoch")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs a run, after each tool's warm-up epoch")
    parser.add_argument("--data", default="", help="Fashion-MNIST directory (default: each tool's own)")
    parser.add_argument("--python-torch",
                        help="the Python that has PyTorch (default: this one, else /usr/bin/python3 if it has it)")
    parser.add_argument("--python-tf", help="the Python that has TensorFlow (default: this one, else "
                                            "/usr/bin/python3, else python3 on PATH, if it has it)")
    parser.add_argument("--json", help="write the settings, every run's command and result, and the notes here")
    args = parser.parse_args()

    usable = sorted(os.sched_getaffinity(0))
    args.models = args.models.split(",")
    bench = args.bench or os.path.join(args.build_dir, "benchmarks", "bench_epoch")
    problem = None
    if not os.access(bench, os.X_OK):
        problem = f"{bench}: not built (run the README's build command first)"
    elif not set(args.models) <= {"mlp", "cnn"}:
        problem = f"--models {','.join(args.models)}: each must be mlp or cnn"
    elif min(args.rounds, args.mlp_steps, args.cnn_steps, args.epochs) < 1:
        problem = "--rounds, --mlp-steps, --cnn-steps and --epochs must be at least 1"
    elif not 1 <= args.busy_cores <= len(usable):
        problem = f"--busy-cores {args.busy_cores}: must be between 1 and the {len(usable)} usable cores"
    else:
        for flag, module in (("--python-torch", "torch"), ("--python-tf", "tensorflow")):
            given = getattr(args, flag[2:].replace("-", "_"))
            if given and not imports(given, module):
                problem = f"{flag} {given}: cannot import {module}"
    if problem:
        print(f"cpu_load.py: {problem}", file=sys.stderr)
        return 2

    notes = []
    if not args.python_torch:
        args.python_torch = python_with("torch", [sys.executable, "/usr/bin/python3"])
        if not args.python_torch:
            notes.append("PyTorch skipped: no Python here imports torch (pass --python-torch)")
    if not args.python_tf:
        args.python_tf = python_with("tensorflow", [sys.executable, "/usr/bin/python3", shutil.which("python3")])
        if not args.python_tf:
            notes.append("Keras/TF skipped: no Python here imports tensorflow (pass --python-tf)")
    machine = {"cpu": cpu_name(), "usable_cores": len(usable), "busy_cores": usable[:args.busy_cores],
               "thread_environment": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
                                      if k in os.environ}}
    configs = configurations(args, os.path.abspath(bench), len(usable))
    print(f"cpu_load.py: {machine['cpu']}, {len(usable)} usable cores, busy loops on core(s) "
          f"{', '.join(map(str, machine['busy_cores']))}", file=sys.stderr)
    for note in notes:
        print(f"cpu_load.py: {note}", file=sys.stderr)

    # A SIGTERM unwinds like Ctrl-C, so that the busy loops are killed either way.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    runs = []
    try:
        for model in args.models:
            steps = args.mlp_steps if model == "mlp" else args.cnn_steps
            for round_ in range(1, args.rounds + 1):
                for load in ("quiet", "busy"):
                    print(f"# {model}, round {round_}/{args.rounds}, {load}", file=sys.stderr, flush=True)
                    for key, _, command in configs:
                        cmd = command(model, steps)
                        with BusyLoops(machine["busy_cores"] if load == "busy" else []):
                            result = run_json(cmd)
                        runs.append({"model": model, "config": key, "load": load, "round": round_,
                                     "command": cmd, "result": result})
    except RuntimeError as e:
        print(f"cpu_load.py: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cpu_load.py: interrupted", file=sys.stderr)
        return 130

    print(report(args, machine, configs, runs, notes))
    if args.json:
        with open(args.json + ".partial", "w") as f:
            json.dump({"machine": machine, "settings": {k: v for k, v in vars(args).items() if k != "json"},
                       "bench": os.path.abspath(bench), "notes": notes, "runs": runs}, f, indent=2)
        os.replace(args.json + ".partial", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
