// The one form every kernel launch takes, LOOM_LAUNCH(kernel, grid, block, shared_bytes, stream)(arguments...), so
// that the same source builds for nvcc and for the CUDA simulator (simulator/README.md). nvcc compiles it to the
// triple-chevron launch; compiled as C++ for the simulator it calls the launch that simulator/kernel_language.h
// (force-included there) defines, which names the kernel and the launch's file:line in its reports. It lives in the
// runtime, below kernels/, because the runtime launches two kernels of its own (Tensor::fill's and the probe's);
// kernels/launch.cuh builds the ops' launch pattern on it.
#pragma once

// LOOM_LAUNCH_AS is the same launch with the kernel's name and launch site given explicitly, for helpers that launch a
// kernel on their caller's behalf (kernels/launch.cuh): there the site worth reporting is the caller's, not the
// helper's. nvcc has no use for the three and drops them.
#if defined(__CUDACC__)
#define LOOM_LAUNCH_AS(name, file, line, kernel, grid, block, shared_bytes, stream) \
  kernel<<<(grid), (block), (shared_bytes), (stream)>>>
#else
#define LOOM_LAUNCH_AS(name, file, line, kernel, grid, block, shared_bytes, stream) \
  ::loom::sim::launch((name), (file), (line), kernel, (grid), (block), (shared_bytes), (stream))
#endif

#define LOOM_LAUNCH(kernel, grid, block, shared_bytes, stream) \
  LOOM_LAUNCH_AS(#kernel, __FILE__, __LINE__, kernel, grid, block, shared_bytes, stream)
