#!/usr/bin/env python3
"""Plants bugs in loom's CUDA path one at a time and shows that the suite, run on the CUDA simulator, catches each.

A simulator that passes every test proves little unless tests on it fail when the CUDA code is wrong. Each mutation
below is a bug a GPU would punish only by chance or a test without a GPU could never see: a removed barrier, a
swapped transpose, a host read before the stream is synchronized. For each one the script edits one file (the
planted text must be found exactly once, so the script fails loudly when the code it mutates has changed), rebuilds
loom_tests in the given simulator build, runs the tests that should catch it in every thread order the mutation
names, and counts the mutation caught when a run fails (a failed expectation or the simulator stopping the run). The
file is restored after each mutation, also when the script is interrupted, and loom_tests is rebuilt unmutated at the
end.

Before mutating anything it runs the same tests on the unmutated build: they must pass, or a "caught" would mean
nothing.

Usage: simulator_mutations.py BUILD_DIR [NAME...]
  BUILD_DIR  a build configured with -DLOOM_CUDA=SIM (loom_tests is built in it)
  NAME       only these mutations (default: all); --list prints them
Prints one line per mutation and exits 0 when every mutation was caught, 1 when one was not, 2 on bad usage or when
the build or the unmutated tests fail.
"""

import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANNER = "runs CUDA code on the CPU; no GPU is used or timed"  # the simulator's first line, evidence of nothing

# name, file, text to find (exactly once), its replacement, the tests that must catch it, thread orders to run them in
MUTATIONS = [
    ("removed __syncthreads", "kernels/bias_activation_cuda.cu",
     "  partial[threadIdx.y][threadIdx.x] = sum;\n  __syncthreads();\n",
     "  partial[threadIdx.y][threadIdx.x] = sum;\n",
     "ConvParity/cuda.BiasGradientOverManyRows", ["forward", "reverse", "random:1"]),
    ("removed __syncwarp", "kernels/softmax_cross_entropy_cuda.cu",
     "  __syncwarp();  // every lane has read z before probs (which may alias it) is written\n",
     "",
     "OpParity/cuda.SoftmaxCrossEntropy", ["forward", "reverse", "random:1"]),
    ("off-by-one bound", "kernels/relu_cuda.cu",
     "LOOM_GRID_STRIDE_LOOP(i, n) { y[i] = x[i]",
     "LOOM_GRID_STRIDE_LOOP(i, n + 1) { y[i] = x[i]",
     "OpParity/cuda.Relu", ["forward"]),
    ("swapped GEMM transpose", "kernels/dense_cublas.cpp",
     "cublasSgemm(blas(), CUBLAS_OP_T, CUBLAS_OP_N, i32(in), i32(n), i32(out)",
     "cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_N, i32(in), i32(n), i32(out)",
     "OpParity/cuda.DenseForwardAndBackward", ["forward"]),
    ("wrong leading dimension", "kernels/dense_cublas.cpp",
     "&one, w, i32(out), x,\n                                i32(in), &zero, y, i32(out)",
     "&one, w, i32(out), x,\n                                i32(out), &zero, y, i32(out)",
     "OpParity/cuda.DenseForwardAndBackward", ["forward"]),
    ("wrong convolution padding in the descriptor", "kernels/conv2d_cudnn.cpp",
     "cudnnSetConvolution2dDescriptor(desc, i32(g.pad_h), i32(g.pad_w),",
     "cudnnSetConvolution2dDescriptor(desc, i32(g.pad_w), i32(g.pad_h),",
     "ConvParity/cuda.Conv2dForwardAndBackward", ["forward"]),
    ("convolution instead of cross-correlation", "kernels/conv2d_cudnn.cpp",
     "CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT",
     "CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT",
     "ConvParity/cuda.Conv2dForwardAndBackward", ["forward"]),
    ("host read of device results before the stream is synchronized", "engine/training/totals_monitor.cpp",
     "    if (event_->done()) {\n",
     "    if (true) {  // planted: reads the staging buffer without asking whether the copy has landed\n",
     "TotalsMonitor.*OnTheGpu:ModelParity.CudaFitWithTheLiveProgressBarTrainsAsWithout", ["forward"]),
    ("cudaMalloc during graph capture", "engine/training/train_step.cpp",
     "void TrainStep::enqueue(const DeviceDataset* data, BatchViews& v) {\n",
     "void TrainStep::enqueue(const DeviceDataset* data, BatchViews& v) {\n"
     "  { Buffer planted(Memory::Device, 256); }  // planted: an allocation inside the captured step\n",
     "ModelParity.CudaGraphTrainingMatchesOrdinaryLaunches", ["forward"]),
]


def say(text):
    print(text, flush=True)


def build(build_dir):
    result = subprocess.run(["cmake", "--build", build_dir, "--target", "loom_tests", "-j", str(os.cpu_count() or 2)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return result.returncode == 0, result.stdout


def run_tests(build_dir, test_filter, order):
    env = dict(os.environ, LOOM_SIM_THREAD_ORDER=order, LOOM_REQUIRE_CUDA="1")
    try:
        result = subprocess.run([os.path.join(build_dir, "tests", "loom_tests"), "--gtest_filter=" + test_filter],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, timeout=600)
    except subprocess.TimeoutExpired:
        return 124, "FAILED: the tests did not finish in 600 s"
    return result.returncode, result.stdout


def tests_run(output):
    """How many tests gtest ran ("[==========] 3 tests from 1 test suite ran. (5 ms total)"): a filter that names none proves
    nothing, mutated or not."""
    ran = re.search(r"^\[==========\] (\d+) tests? from .* ran\.", output, re.MULTILINE)
    return int(ran.group(1)) if ran else 0


def evidence(output):
    """The first line that says what went wrong: the simulator's report or a failed expectation."""
    lines = output.splitlines()
    for marker in ("loom CUDA simulator:", "Failure", "error:", "Expected", "FAILED"):
        for i, line in enumerate(lines):
            if marker in line and BANNER not in line:
                # gtest names a thrown exception on the line after "unknown file: Failure"
                if line.startswith("unknown file") and i + 1 < len(lines):
                    line = lines[i + 1]
                return line.strip()[:200]
    return output.strip().splitlines()[-1][:200] if output.strip() else "(no output)"


def main(argv):
    if len(argv) >= 2 and argv[1] == "--list":
        for m in MUTATIONS:
            say(f"{m[0]}: {m[1]} -> {m[4]}")
        return 0
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    build_dir = argv[1]
    wanted = argv[2:]
    unknown = [w for w in wanted if w not in [m[0] for m in MUTATIONS]]
    if unknown:
        print(f"simulator_mutations: no mutation named '{unknown[0]}' (--list names them)", file=sys.stderr)
        return 2
    cache = os.path.join(build_dir, "CMakeCache.txt")
    if not os.path.isfile(cache) or "LOOM_CUDA:STRING=SIM" not in open(cache).read():
        print(f"simulator_mutations: '{build_dir}' is not a build configured with -DLOOM_CUDA=SIM", file=sys.stderr)
        return 2
    mutations = [m for m in MUTATIONS if not wanted or m[0] in wanted]

    ok, log = build(build_dir)
    if not ok:
        print("simulator_mutations: the unmutated build fails:\n" + log[-3000:], file=sys.stderr)
        return 2
    for name, _, _, _, tests, orders in mutations:
        for order in orders:
            rc, out = run_tests(build_dir, tests, order)
            if rc != 0 or tests_run(out) == 0:
                problem = evidence(out) if rc != 0 else "the filter names no test"
                print(f"simulator_mutations: the unmutated tests for '{name}' fail ({tests}, order {order}): "
                      f"{problem}", file=sys.stderr)
                return 2

    missed = 0
    for name, path, find, replace, tests, orders in mutations:
        start = time.time()
        full = os.path.join(ROOT, path)
        original = open(full).read()
        if original.count(find) != 1:
            print(f"simulator_mutations: '{name}': the text to mutate occurs {original.count(find)} times in {path}, "
                  "not once: update this script", file=sys.stderr)
            return 2
        try:
            with open(full, "w") as f:
                f.write(original.replace(find, replace))
            ok, log = build(build_dir)
            caught_by = ""
            if not ok:
                missed += 1
                say(f"NOT CAUGHT  {name} ({path}): the mutated source does not build:\n{log[-1500:]}")
                continue
            for order in orders:
                rc, out = run_tests(build_dir, tests, order)
                if rc != 0:
                    caught_by = f"order {order}: {evidence(out)}"
                    break
        finally:
            with open(full, "w") as f:
                f.write(original)
        seconds = time.time() - start
        if caught_by:
            say(f"caught      {name} ({path}; {seconds:.0f} s) by {tests}, {caught_by}")
        else:
            missed += 1
            say(f"NOT CAUGHT  {name} ({path}; {seconds:.0f} s): {tests} pass in orders {', '.join(orders)}")
    ok, log = build(build_dir)
    if not ok:
        print("simulator_mutations: rebuilding the unmutated sources failed:\n" + log[-3000:], file=sys.stderr)
        return 2
    say(f"{len(mutations) - missed} of {len(mutations)} planted bugs caught")
    return 0 if missed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
