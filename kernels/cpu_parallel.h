// The CPU path's one way of using several cores: [0, n) is cut into one contiguous range per thread and the same
// function runs on each. Ops hand it their readable reference (kernels/*_ref.cpp), applied to a slice, so the fast
// path computes element for element what the reference computes, sums in the same order, only on more cores.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

// A loop that does arithmetic, not just memory traffic, compiled twice: for AVX2 (eight floats at a time) and for
// any x86-64 (SSE2, four), the loader picking the one the CPU runs (GCC's and clang's target_clones, an ifunc). "avx2"
// brings no FMA, so no multiply-add is contracted into one rounding: both clones round as the reference does.
// GCC's `flatten` inlines what the function calls (the reference template) into each clone; clang refuses it beside
// target_clones and decides on inlining itself.
#if defined(__x86_64__) && defined(__clang__)
#define LOOM_AVX2_CLONES __attribute__((target_clones("avx2", "default")))
#elif defined(__x86_64__) && defined(__GNUC__)
#define LOOM_AVX2_CLONES __attribute__((target_clones("avx2", "default"), flatten))
#else
#define LOOM_AVX2_CLONES
#endif

namespace loom::cpu {

// Below this many elements of work per thread, waking a second thread costs more than it saves (an OpenMP fork and
// join is a few microseconds; a core streams about 4 floats a nanosecond).
constexpr int64_t kMinWorkPerThread = 16 * 1024;

// Runs body(begin, end) on disjoint ranges covering [0, n), on at most cpu_threads() threads and on no more than
// `work_per_item` · n / kMinWorkPerThread of them (so small calls stay on the calling thread). `body` must not throw.
template <class Body>
void parallel_ranges(int64_t n, int64_t work_per_item, Body body) {
  if (n <= 0) return;
  const int64_t worth = std::max<int64_t>(1, n * std::max<int64_t>(1, work_per_item) / kMinWorkPerThread);
  const int threads = static_cast<int>(std::min<int64_t>({omp_get_max_threads(), worth, n}));
  if (threads <= 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t part = omp_get_thread_num(), parts = omp_get_num_threads();
    const int64_t begin = n * part / parts, end = n * (part + 1) / parts;
    if (begin < end) body(begin, end);
  }
}

}  // namespace loom::cpu
