// The CPU path's threads: loom's own pool, which every parallel CPU op runs on (kernels/cpu_parallel.h), OpenBLAS
// included (each thread calls it for one product at a time, on that thread alone).
//
// It is built for machines that are shared. A job is cut into chunks that the threads claim one at a time, so a
// thread that the system has paused takes fewer of them instead of holding back the rest; a thread that waits, for
// work or for the last chunk, spins only briefly and then sleeps, so that it gives its core back to whatever needs
// it. And the pool watches, over every ~20 ms of chunks, how much of their running time the threads really got
// from their cores (their CPU time over their wall-clock time): below 80 %, some core is shared with another
// program, and the pool runs on one thread fewer; every so often it tries one more again (after 0.5 s, then 1 s,
// 2 s, … up to 16 s while the trials keep failing). The chunks do not depend on how many threads run them, so the
// results are the same, bit for bit, whatever the count.
#pragma once

#include <cstdint>

namespace loom::cpu {

// A job's work: one call per chunk. `slot` names the thread that runs it, from 0 (the thread that called run_chunks)
// to the job's thread limit - 1, the same for every chunk that thread runs, so ops can give each thread its own
// scratch.
using ChunkFunction = void (*)(void* context, int64_t chunk, int slot);

// The most chunks one job may have.
constexpr int64_t kMaxChunks = 65535;

// Calls run(context, chunk, slot) once for every chunk in [0, chunks) (1 to kMaxChunks), on the calling thread and
// the pool's, in no fixed order, and returns when all have run. When a chunk throws, the job's other chunks may or
// may not run, and the (first) exception is rethrown here once none is running. A job started from inside a chunk,
// or while another thread's job runs, runs its chunks on the calling thread, in order.
// `max_threads` bounds the job's team, and so its slots: an op that sized per-thread scratch for cpu_threads() passes
// the count it read, which another thread's set_cpu_threads cannot then overtake.
void run_chunks(int64_t chunks, ChunkFunction run, void* context, int max_threads);

// The pool's size: the most threads a job runs on, the caller included (1 to kMaxCpuThreads; 1 leaves the pool
// idle). A new size also ends any shrinking the pool had done. It waits for a job in progress on another thread, and
// is refused (loom::Error) from inside a chunk, whose job could then never end.
void set_pool_threads(int threads);
int pool_threads();

// How many threads jobs run on now: pool_threads(), or fewer while the pool finds its cores shared.
int pool_team();

// What the pool has seen since it started (for benchmarks and tests; refused from inside a chunk, as set_pool_threads).
struct PoolCounters {
  int64_t jobs = 0;          // run_chunks calls that ran on more than one thread
  int64_t shrinks = 0;       // times it went down a thread because its cores were shared
  int64_t trials = 0;        // times it tried a thread more again
  double worst_share = 1.0;  // the lowest share of their cores the threads got over one measured stretch
};
PoolCounters pool_counters();

}  // namespace loom::cpu
