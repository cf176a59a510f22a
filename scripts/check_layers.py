#!/usr/bin/env python3
"""Checks that every #include "..." in engine/, kernels/ and apps/ points down the layers, never up or sideways.

The layers, lowest first (a folder may include its own files and those of any lower layer):

    runtime              engine/runtime: tensors, memory, the device, errors
    kernels, io          kernels/ (the ops, which take runtime's tensors); engine/io (files and text)
    data                 engine/data: data sets, read through io, gathered by kernels
    layers               engine/layers
    losses, optimizers   engine/losses (a loss may take over the output layer); engine/optimizers
    model                engine/model: Sequential, its parameters and saved files
    training             engine/training: the Trainer, fit, evaluate, predict, callbacks, checkpoints
    report               engine/report: the HTML report of a training run
    apps                 apps/: the command-line programs

Folders on one line are peers: neither may include the other. kernels sits above runtime because every kernel
takes runtime's tensors and reports through its errors; io sits above runtime too (it throws runtime's errors) and
runtime reads no files. tests/, benchmarks/ and fuzz/ stand above all of them and are not checked; no checked file
may include them.

Usage: check_layers.py [REPOSITORY]  (default: the folder above this script). Prints one line per offending include,
  engine/model/x.h:12: engine/model/x.h includes engine/training/y.h (model may not depend on training)
and exits 1 if there is any, 0 otherwise, 2 when the repository cannot be read.
check_layers.py --self-test: the check run on a small made-up repository, to show it finds what it should.
"""

import os
import re
import sys
import tempfile

LAYERS = [
    ["runtime"],
    ["kernels", "io"],
    ["data"],
    ["layers"],
    ["losses", "optimizers"],
    ["model"],
    ["training"],
    ["report"],
    ["apps"],
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
CHECKED = ["engine", "kernels", "apps"]  # the folders whose files are read
ABOVE_ALL = ["tests", "benchmarks", "fuzz"]  # may include anything; nothing checked may include them
SOURCE_SUFFIXES = (".h", ".hpp", ".cuh", ".cpp", ".cc", ".cu")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def layer_of(path):
    """The layer of a repository path such as engine/model/x.h or kernels/adam.h; None outside the checked folders,
    the folder's name for a folder no layer names (reported as such)."""
    parts = path.split("/")
    if parts[0] == "engine":
        return parts[1] if len(parts) > 2 else None  # engine/CMakeLists.txt and the like belong to no layer
    if parts[0] in ("kernels", "apps"):
        return parts[0]
    return None


def check(root):
    problems = []
    for top in CHECKED:
        for folder, subfolders, files in os.walk(os.path.join(root, top)):
            subfolders.sort()
            for name in sorted(files):
                if not name.endswith(SOURCE_SUFFIXES):
                    continue
                path = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
                source = layer_of(path)
                if source is None:
                    continue
                if source not in RANK:
                    problems.append(f"{path}:1: {path} is in engine/{source}, which no layer names (add it to "
                                    f"LAYERS in scripts/check_layers.py)")
                    continue
                with open(os.path.join(root, path), encoding="utf-8", errors="replace") as text:
                    for number, line in enumerate(text, 1):
                        match = INCLUDE.match(line)
                        if match:
                            problem = include_problem(path, source, match.group(1))
                            if problem:
                                problems.append(f"{path}:{number}: {problem}")
    return problems


def include_problem(path, source, included):
    """Why `path` (in layer `source`) may not include `included`, or None when it may."""
    if included.split("/")[0] in ABOVE_ALL:
        return f"{path} includes {included} ({source} may not depend on {included.split('/')[0]})"
    target = layer_of(included)
    if target is None or target == source:
        return None  # a system or third-party header, or the layer's own
    if target not in RANK:
        return f"{path} includes {included}, which is in no layer (add engine/{target} to scripts/check_layers.py)"
    if RANK[target] < RANK[source]:
        return None
    return f"{path} includes {included} ({source} may not depend on {target})"


def self_test():
    """0 when the check flags an upward, a sideways and an above-all include in a made-up repository, and nothing
    else; 1 (saying what went wrong) otherwise."""
    files = {
        "engine/model/m.h": '#include "engine/training/t.h"\n#include "engine/layers/l.h"\n#include <vector>\n',
        "engine/losses/s.cpp": '#include "engine/optimizers/o.h"\n#include "engine/losses/s.h"\n',
        "engine/runtime/r.cpp": '  #  include "tests/test_support.h"\n#include "kernels/k.h"  // the comment\n',
        "kernels/k.cu": '#include "engine/runtime/r.h"\n',
        "apps/a.cpp": '#include "engine/report/p.h"\n#include "CLI/CLI.hpp"\n',
    }
    expected = [
        "engine/losses/s.cpp:1: engine/losses/s.cpp includes engine/optimizers/o.h (losses may not depend on "
        "optimizers)",
        "engine/model/m.h:1: engine/model/m.h includes engine/training/t.h (model may not depend on training)",
        "engine/runtime/r.cpp:1: engine/runtime/r.cpp includes tests/test_support.h (runtime may not depend on tests)",
        "engine/runtime/r.cpp:2: engine/runtime/r.cpp includes kernels/k.h (runtime may not depend on kernels)",
    ]
    with tempfile.TemporaryDirectory() as root:
        for path, text in files.items():
            os.makedirs(os.path.join(root, os.path.dirname(path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as out:
                out.write(text)
        found = sorted(check(root))
    if found == expected:
        print("check_layers.py --self-test: the made-up repository's 4 offending includes found, and no other")
        return 0
    print("check_layers.py --self-test failed: expected\n  " + "\n  ".join(expected) + "\ngot\n  " +
          "\n  ".join(found), file=sys.stderr)
    return 1


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    if not all(os.path.isdir(os.path.join(root, top)) for top in CHECKED):
        print(f"check_layers.py: '{root}' is not a loom repository (it lacks engine/, kernels/ or apps/)",
              file=sys.stderr)
        return 2
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check_layers.py: {len(problems)} include(s) against the layers (see the order in the script's "
              f"header)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
