#!/usr/bin/env python3
"""Runs loom's bench_epoch and the PyTorch reference on the same machine in one go and prints the table of ratios.

    python3 benchmarks/compare.py --epochs 5 --json comparison.json

Each side first checks that its training works, then times its epochs (one warm-up, then CUDA events, median). The
ratios are PyTorch's ms/epoch over loom's: above 1 means loom is faster.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def python_with_torch():
    """Debian's python3-torch installs into the system Python, which need not be the python3 first on PATH."""
    for candidate in (sys.executable, "/usr/bin/python3"):
        if os.access(candidate, os.X_OK) and subprocess.run(
                [candidate, "-c", "import torch"], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


def run_json(command):
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} exited with {done.returncode}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    parser.add_argument("--bench", help="the bench_epoch binary (default: BUILD_DIR/benchmarks/bench_epoch)")
    parser.add_argument("--models", default="mlp,cnn")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto")
    parser.add_argument("--data", default="")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for both (loom's --threads, torch.set_num_threads); 0: each one's default "
                             "(loom: every core it may run on; PyTorch: its own choice, which Debian's makes 1)")
    parser.add_argument("--python", default=python_with_torch(),
                        help="the Python that has PyTorch (default: this one, else /usr/bin/python3 if it has it)")
    parser.add_argument("--json", help="write every result and the ratios here")
    args = parser.parse_args()

    bench = args.bench or os.path.join(args.build_dir, "benchmarks", "bench_epoch")
    if not os.access(bench, os.X_OK):
        print(f"compare.py: {bench}: not built (run the README's build command first)", file=sys.stderr)
        return 2
    if args.threads < 0 or (args.threads and args.device != "cpu"):
        print("compare.py: --threads must be at least 1 and needs --device cpu", file=sys.stderr)
        return 2
    common = ["--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--max-steps", str(args.max_steps),
              "--device", args.device] + (["--data", args.data] if args.data else []) + \
        (["--threads", str(args.threads)] if args.threads else [])
    rows, everything = [], []
    try:
        for model in args.models.split(","):
            loom = json.loads(run_json([bench, "--model", model] + common))
            torch_lines = run_json([args.python, os.path.join(HERE, "pytorch_reference.py"), "--model", model,
                                    "--mode", "both"] + common).strip().splitlines()
            torch = {r["mode"]: r for r in map(json.loads, torch_lines)}
            for r in torch.values():  # a CPU-vs-GPU ratio would mean nothing
                if "device" in r and r["device"] != loom["device"]:
                    raise RuntimeError(f"{model}: loom ran on {loom['device']} but PyTorch on {r['device']}; "
                                       "pass --device cuda (or cpu) to compare like with like")
            everything += [loom] + list(torch.values())
            row = {"model": model, "device": loom["device"], "loom_ms": loom["ms_per_epoch_median"]}
            if "cpu_threads" in loom:  # each side's own count, so that a ratio of unequal thread counts shows
                row["threads"] = f"{loom['cpu_threads']}/{torch.get('eager', {}).get('cpu_threads', '?')}"
                row["device"] += f"({row['threads']})"
            for mode in ("eager", "graph"):
                r = torch.get(mode, {})
                if "ms_per_epoch_median" in r:
                    row[f"torch_{mode}_ms"] = r["ms_per_epoch_median"]
                    row[f"{mode}_over_loom"] = r["ms_per_epoch_median"] / loom["ms_per_epoch_median"]
            rows.append(row)
    except (RuntimeError, ValueError, KeyError) as e:
        print(f"compare.py: {e}", file=sys.stderr)
        return 1

    def cell(row, key, fmt, suffix=""):
        return format(row[key], fmt) + suffix if key in row else "n/a"  # e.g. no CUDA graphs on a CPU

    print(f"\n{'model':6} {'device':10} {'loom ms/epoch':>14} {'torch eager':>12} {'torch graph':>12} "
          f"{'eager/loom':>11} {'graph/loom':>11}")
    for row in rows:
        print(f"{row['model']:6} {row['device']:10} {row['loom_ms']:14.1f} {cell(row, 'torch_eager_ms', '12.1f'):>12} "
              f"{cell(row, 'torch_graph_ms', '12.1f'):>12} {cell(row, 'eager_over_loom', '.2f', 'x'):>11} "
              f"{cell(row, 'graph_over_loom', '.2f', 'x'):>11}")
    if args.json:
        with open(args.json + ".partial", "w") as f:
            json.dump({"rows": rows, "results": everything}, f, indent=2)
        os.replace(args.json + ".partial", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
