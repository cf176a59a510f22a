#!/usr/bin/env bash
# A build without the CUDA path (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit) as users meet it: --device cuda is
# refused in one line that says so and how to rebuild (exit 2), before anything is read or printed. Registered only in
# such builds.
#   no_cuda_cli.sh TRAIN_MLP
source "$(dirname "$0")/cli_support.sh"
program=$1
name=$(basename "$program")

without_cuda="loom was built without CUDA \(LOOM_CUDA=OFF, or AUTO without the CUDA toolkit\)"
expect_silent 2 ": --device cuda: $without_cuda: rebuild with -DLOOM_CUDA=ON, with the CUDA toolkit and cuDNN installed$" \
  --device cuda --epochs 1

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
