// The CPU path's ways of using several cores, both on loom's own pool (engine/runtime/cpu_pool.h): chunks of a job
// that ops cut themselves (the convolutions, the large products), and [0, n) cut into contiguous ranges that the same
// function runs on. Ops hand the latter their readable reference (kernels/*_ref.cpp), applied to a slice, so the fast
// path computes element for element what the reference computes, sums in the same order, only on more cores.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "engine/runtime/cpu_pool.h"
#include "engine/runtime/cpu_threads.h"

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

// Below this much work (in floats streamed, roughly) a chunk is not worth handing to another thread: waking one and
// waiting for it costs tens of microseconds on a virtual machine, and a core streams about 4 floats a nanosecond.
// The tutorial MLP's ops all fall below twice this, so it trains on the calling thread alone, as fast as it can: a
// second thread made its step slower and erratic on two cores.
constexpr int64_t kMinWorkPerChunk = 256 * 1024;

// Runs body(chunk, slot) for every chunk in [0, chunks) on the CPU pool (engine/runtime/cpu_pool.h): on up to
// `max_threads` threads, in no fixed order, `slot` naming the thread (0 to max_threads - 1) for per-thread scratch
// (an exception is rethrown here: run_chunks). Results must not depend on which thread runs which chunk: then they
// are the same on any thread count.
template <class Body>
void parallel_chunks(int64_t chunks, Body&& body, int max_threads = kMaxCpuThreads) {
  if (chunks <= 0) return;
  using Function = std::remove_reference_t<Body>;
  run_chunks(
      chunks, [](void* context, int64_t chunk, int slot) { (*static_cast<Function*>(context))(chunk, slot); },
      const_cast<void*>(static_cast<const void*>(&body)), max_threads);
}

// Runs body(begin, end) on disjoint ranges covering [0, n), cut by the work they hold (`work_per_item` · n in all):
// none when the whole is under twice kMinWorkPerChunk (it runs on the calling thread), else about four ranges a
// thread, so that a thread the system pauses holds back little.
template <class Body>
void parallel_ranges(int64_t n, int64_t work_per_item, Body body) {
  if (n <= 0) return;
  const int64_t worth = n * std::max<int64_t>(1, work_per_item) / kMinWorkPerChunk;
  const int64_t ranges = std::min<int64_t>({worth, n, 4 * int64_t{cpu_threads()}, kMaxChunks});
  if (ranges < 2) {
    body(int64_t{0}, n);
    return;
  }
  parallel_chunks(ranges, [&](int64_t range, int) { body(n * range / ranges, n * (range + 1) / ranges); });
}

}  // namespace loom::cpu
