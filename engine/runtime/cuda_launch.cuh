// The one form every kernel launch takes, LOOM_LAUNCH(kernel, grid, block, shared_bytes, stream)(arguments...), so
// that the same source builds for nvcc and for the CUDA simulator (simulator/README.md). nvcc compiles it to the
// triple-chevron launch; compiled as C++ for the simulator it calls the launch that simulator/kernel_language.h (
// force-included there) defines. It lives in the runtime, below kernels/, because the runtime launches two kernels of
// its own (Tensor::fill's and the probe's); kernels/launch.cuh builds the ops' launch pattern on it.
#pragma once

#if defined(__CUDACC__)
#define LOOM_LAUNCH(kernel, grid, block, shared_bytes, stream) kernel<<<(grid), (block), (shared_bytes), (stream)>>>
#else
#define LOOM_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  ::loom::sim::launch(#kernel, __FILE__, __LINE__, kernel, (grid), (block), (shared_bytes), (stream))
#endif
