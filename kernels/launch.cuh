// The one launch pattern every hand-written kernel uses: size check, ceil-div grid, launch on the context's stream,
// launch-error check. Kernels over sizes that are not fixed iterate with LOOM_GRID_STRIDE_LOOP. Ops launch through
// LOOM_LAUNCH_ELEMENTWISE and LOOM_LAUNCH_GRID, which hand the helpers the kernel's name and the op's launch site, so
// that the CUDA simulator reports the kernel that failed and the line that launched it rather than this header.
#pragma once

#include <algorithm>
#include <cstdint>

#include <cuda_runtime.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_launch.cuh"

#define LOOM_GRID_STRIDE_LOOP(i, n)                                                      \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

namespace loom::cuda {

constexpr int kBlockSize = 256;
// Enough blocks to fill any current GPU several times over; grid-stride loops cover the rest.
constexpr int64_t kMaxBlocks = 4096;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline cudaStream_t stream() { return CudaContext::get().stream(); }

// The kernel a helper launches and where its op launches it from, as LOOM_LAUNCH_SITE(kernel) writes them at the op's
// call; only the CUDA simulator's reports read them (LOOM_LAUNCH_AS).
struct LaunchSite {
  const char* kernel;
  const char* file;
  int line;
};

#define LOOM_LAUNCH_SITE(kernel) \
  ::loom::cuda::LaunchSite { #kernel, __FILE__, __LINE__ }

// Launches `kernel` with one thread per element of `n` (grid-stride beyond kMaxBlocks blocks).
#define LOOM_LAUNCH_ELEMENTWISE(n, kernel, ...) \
  ::loom::cuda::launch_elementwise(LOOM_LAUNCH_SITE(kernel), (n), kernel, __VA_ARGS__)

// Launches `kernel` with an explicit grid (for row-per-block and other shaped kernels).
#define LOOM_LAUNCH_GRID(blocks, threads, kernel, ...) \
  ::loom::cuda::launch_grid(LOOM_LAUNCH_SITE(kernel), (blocks), (threads), kernel, __VA_ARGS__)

// nvcc drops the site (LOOM_LAUNCH_AS), hence [[maybe_unused]].
template <class Kernel, class... Args>
void launch_elementwise([[maybe_unused]] LaunchSite site, int64_t n, Kernel kernel, Args... args) {
  if (n <= 0) return;
  int64_t blocks = std::min(ceil_div(n, kBlockSize), kMaxBlocks);
  LOOM_LAUNCH_AS(site.kernel, site.file, site.line, kernel, static_cast<unsigned>(blocks), kBlockSize, 0, stream())
  (args...);
  LOOM_CUDA_CHECK_LAUNCH();
}

template <class Kernel, class... Args>
void launch_grid([[maybe_unused]] LaunchSite site, int64_t blocks, int threads, Kernel kernel, Args... args) {
  if (blocks <= 0) return;
  LOOM_LAUNCH_AS(site.kernel, site.file, site.line, kernel, static_cast<unsigned>(blocks), threads, 0, stream())
  (args...);
  LOOM_CUDA_CHECK_LAUNCH();
}

}  // namespace loom::cuda
