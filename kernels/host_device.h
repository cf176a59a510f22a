// LOOM_HOST_DEVICE marks an inline function that the CPU path and the CUDA kernels share, so that both compute an
// element with the same arithmetic: __host__ __device__ under nvcc, nothing in C++.
#pragma once

#if defined(__CUDACC__)
#define LOOM_HOST_DEVICE __host__ __device__
#else
#define LOOM_HOST_DEVICE
#endif
