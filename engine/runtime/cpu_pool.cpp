#include "engine/runtime/cpu_pool.h"

#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>

#include "engine/runtime/cpu_team_policy.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/errors.h"

namespace loom::cpu {

namespace {

using Clock = std::chrono::steady_clock;

// A thread that waits for work spins this long before it sleeps: long enough to stay awake across the short serial
// stretches between a training step's parallel ops, short enough that a shared core is handed back soon.
constexpr auto kWorkerSpin = std::chrono::microseconds(100);
// The caller, once its chunks are done, spins this long for the others' before it sleeps: a chunk about to end is
// waited for awake; one whose thread the system paused is not, and the core the caller frees lets the system move
// that thread there.
constexpr auto kCallerSpin = std::chrono::microseconds(50);
// Waiting on a word and waking one waiter: Linux's futex, on std::atomic<uint32_t>, which is a bare uint32_t.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "a futex word must be a plain 32-bit word");
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

int64_t thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// A job's claim word: [generation: 32 bits][chunks: 16][next chunk to claim: 16]. One word, so a thread that claims
// a chunk knows in the same step that the chunk belongs to the job it means and that the job still has it.
uint64_t claim_word(uint32_t generation, int64_t chunks) {
  return uint64_t{generation} << 32 | static_cast<uint64_t>(chunks) << 16;
}
uint32_t generation_of(uint64_t word) { return static_cast<uint32_t>(word >> 32); }
int64_t chunks_of(uint64_t word) { return static_cast<int64_t>((word >> 16) & 0xFFFF); }
int64_t next_of(uint64_t word) { return static_cast<int64_t>(word & 0xFFFF); }

// Each on a cache line of its own, so that one thread's traffic does not slow another's.
struct alignas(64) Sleeper {
  std::atomic<uint32_t> bell{0};      // rung (incremented, then woken) to wake its thread
  std::atomic<uint32_t> sleeping{0};  // 1 while its thread is (about to be) asleep on the bell
};
struct alignas(64) ChunkTimes {
  std::atomic<int64_t> wall_ns{0};
  std::atomic<int64_t> cpu_ns{0};
};

thread_local int current_slot = 0;         // 0 on every thread but the pool's own
thread_local bool inside_a_chunk = false;  // a job started from here runs on this thread alone

class Pool;
Pool* pool_instance();

class Pool {
 public:
  Pool() : sleepers_(new Sleeper[kMaxCpuThreads]), times_(new ChunkTimes[kMaxCpuThreads]), policy_(1) {
    pthread_atfork(nullptr, nullptr, after_fork_in_the_child);
  }

  int threads() {
    if (const int threads = threads_.load(std::memory_order_acquire)) return threads;
    std::lock_guard<std::mutex> lock(job_mutex_);
    if (threads_.load(std::memory_order_relaxed) == 0) resize(default_threads());
    return threads_.load(std::memory_order_relaxed);
  }

  void set_threads(int threads) {
    refuse_inside_a_chunk("set_cpu_threads");
    std::lock_guard<std::mutex> lock(job_mutex_);
    resize(threads);
  }

  int team() {
    threads();
    return team_.load(std::memory_order_relaxed);
  }

  PoolCounters counters() {
    refuse_inside_a_chunk("pool_counters");
    std::lock_guard<std::mutex> lock(job_mutex_);
    PoolCounters counters;
    counters.jobs = jobs_;
    counters.shrinks = policy_.shrinks();
    counters.trials = policy_.trials();
    counters.worst_share = policy_.worst_share();
    return counters;
  }

  void run(int64_t chunks, ChunkFunction function, void* context, int max_threads) {
    if (chunks < 1 || chunks > kMaxChunks)
      throw Error("run_chunks: a job must have 1 to " + std::to_string(kMaxChunks) + " chunks, got " +
                  std::to_string(chunks));
    if (max_threads < 1)
      throw Error("run_chunks: a job must be allowed 1 thread or more, got " + std::to_string(max_threads));
    threads();
    std::unique_lock<std::mutex> lock(job_mutex_, std::defer_lock);
    if (chunks == 1 || max_threads == 1 || inside_a_chunk || forked_ || !lock.try_lock())
      return run_alone(chunks, function, context);
    const int team =
        static_cast<int>(std::min<int64_t>({policy_.team_for_a_job(wall_ns()), chunks, int64_t{max_threads}}));
    team_.store(policy_.team(), std::memory_order_relaxed);
    if (team <= 1) {
      lock.unlock();
      return run_alone(chunks, function, context);
    }
    // Every thread at once, so that a trial later never starts one (a step allocates nothing).
    start_threads(policy_.threads());

    job_function_ = function;
    job_context_ = context;
    done_.store(0, std::memory_order_relaxed);
    job_team_.store(team, std::memory_order_relaxed);
    if (++generation_ == 0) ++generation_;  // 0 means "no job yet"
    const uint32_t generation = generation_;
    claims_.store(claim_word(generation, chunks), std::memory_order_release);
    published_.store(generation, std::memory_order_seq_cst);
    for (int slot = 1; slot < team; ++slot) {
      Sleeper& sleeper = sleepers_[slot];
      if (sleeper.sleeping.load(std::memory_order_seq_cst)) {
        sleeper.bell.fetch_add(1, std::memory_order_release);
        futex_wake(sleeper.bell);
      }
    }
    inside_a_chunk = true;
    take_part(0, generation);
    inside_a_chunk = false;
    wait_for_the_rest(static_cast<uint32_t>(chunks));
    std::exception_ptr failure = std::move(job_failure_);
    job_failure_ = nullptr;
    ++jobs_;
    int64_t wall = 0, cpu = 0;
    for (int slot = 0; slot < team; ++slot) {
      wall += times_[slot].wall_ns.exchange(0, std::memory_order_relaxed);
      cpu += times_[slot].cpu_ns.exchange(0, std::memory_order_relaxed);
    }
    policy_.add_job(wall, cpu, wall_ns());
    team_.store(policy_.team(), std::memory_order_relaxed);
    if (failure) std::rethrow_exception(failure);
  }

 private:
  static int default_threads() {
    try {
      return default_cpu_threads().threads;
    } catch (const UsageError&) {
      return usable_cores();  // a program that reads the variable refuses it; a library user's own code may not
    }
  }

  // Under job_mutex_.
  void resize(int threads) {
    policy_ = TeamPolicy(threads);
    team_.store(threads, std::memory_order_relaxed);
    threads_.store(threads, std::memory_order_release);
  }

  static void refuse_inside_a_chunk(const char* what) {
    if (inside_a_chunk)
      throw Error(std::string(what) + ": called from inside a CPU op's chunk, whose job it would block");
  }

  // A forked child has none of the pool's threads, and the job lock may have been held by one of them: it runs every
  // job itself, and its lock starts afresh.
  static void after_fork_in_the_child() {
    forked_ = true;
    new (&pool_instance()->job_mutex_) std::mutex;
  }

  // Every chunk on this thread, in order; an exception ends the job there, as it would a loop. (On one of the pool's
  // threads, inside a chunk, its slot is below the limit of the job around it, for which the scratch was sized.)
  static void run_alone(int64_t chunks, ChunkFunction function, void* context) {
    struct Inside {
      bool was = inside_a_chunk;
      Inside() { inside_a_chunk = true; }
      ~Inside() { inside_a_chunk = was; }
    } inside;
    for (int64_t chunk = 0; chunk < chunks; ++chunk) function(context, chunk, current_slot);
  }

  // Under job_mutex_: the pool's threads for slots 1 to team - 1, started when first needed and never stopped (the
  // pool lives as long as the process; one that sleeps costs nothing).
  // A thread the system refuses to start leaves the pool at the threads it has.
  void start_threads(int team) {
    for (; started_ < team; ++started_) {
      try {
        std::thread([this, slot = started_] { serve(slot); }).detach();
      } catch (const std::system_error&) {
        policy_ = TeamPolicy(started_);
        team_.store(started_, std::memory_order_relaxed);
        threads_.store(started_, std::memory_order_release);
        return;
      }
    }
  }

  void serve(int slot) {
    current_slot = slot;
    inside_a_chunk = true;
    // OpenBLAS's OpenMP build runs a product on as many threads as the calling thread's OpenMP count: one here.
    omp_set_num_threads(1);
    uint32_t seen = 0;
    for (;;) {
      seen = wait_for_a_job(slot, seen);
      take_part(slot, seen);
    }
  }

  bool in_the_team(uint32_t generation, int slot) const {
    return generation != 0 && slot < job_team_.load(std::memory_order_relaxed);
  }

  // The generation of the next job this thread is part of, after `seen`.
  uint32_t wait_for_a_job(int slot, uint32_t seen) {
    const Clock::time_point spin_until = Clock::now() + kWorkerSpin;
    for (int turn = 1;; ++turn) {
      const uint32_t generation = published_.load(std::memory_order_acquire);
      if (generation != seen) {
        if (in_the_team(generation, slot)) return generation;
        seen = generation;
      }
      spin_pause();
      if (turn % 64 == 0 && Clock::now() > spin_until) break;
    }
    Sleeper& sleeper = sleepers_[slot];
    for (;;) {
      const uint32_t bell = sleeper.bell.load(std::memory_order_acquire);
      sleeper.sleeping.store(1, std::memory_order_seq_cst);
      const uint32_t generation = published_.load(std::memory_order_seq_cst);
      if (generation != seen && in_the_team(generation, slot)) {
        sleeper.sleeping.store(0, std::memory_order_relaxed);
        return generation;
      }
      seen = generation;
      futex_wait(sleeper.bell, bell);
      sleeper.sleeping.store(0, std::memory_order_relaxed);
    }
  }

  // Claims and runs the chunks of job `generation` until none is left.
  void take_part(int slot, uint32_t generation) {
    uint64_t word = claims_.load(std::memory_order_acquire);
    for (;;) {
      if (generation_of(word) != generation || next_of(word) >= chunks_of(word)) return;
      if (!claims_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      // The claim succeeded, so the job is not over: its function and context stay as they are until this chunk
      // is counted done.
      const int64_t wall_before = wall_ns(), cpu_before = thread_cpu_ns();
      try {
        job_function_(job_context_, next_of(word), slot);
      } catch (...) {
        // Kept for the caller, which rethrows it once every chunk has run (the others' may use what it holds).
        std::lock_guard<std::mutex> lock(failure_mutex_);
        if (!job_failure_) job_failure_ = std::current_exception();
      }
      ChunkTimes& times = times_[slot];
      times.wall_ns.fetch_add(wall_ns() - wall_before, std::memory_order_relaxed);
      times.cpu_ns.fetch_add(thread_cpu_ns() - cpu_before, std::memory_order_relaxed);
      const uint32_t chunks = static_cast<uint32_t>(chunks_of(word));
      if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks &&
          caller_sleeping_.load(std::memory_order_seq_cst))
        futex_wake(done_);
      word = claims_.load(std::memory_order_acquire);
    }
  }

  void wait_for_the_rest(uint32_t chunks) {
    const Clock::time_point spin_until = Clock::now() + kCallerSpin;
    for (int turn = 1; done_.load(std::memory_order_acquire) != chunks; ++turn) {
      spin_pause();
      if (turn % 64 == 0 && Clock::now() > spin_until) break;
    }
    for (;;) {
      caller_sleeping_.store(1, std::memory_order_seq_cst);
      const uint32_t done = done_.load(std::memory_order_seq_cst);
      if (done == chunks) break;
      futex_wait(done_, done);
    }
    caller_sleeping_.store(0, std::memory_order_relaxed);
  }

  static inline std::atomic<bool> forked_{false};

  std::mutex job_mutex_;         // one job at a time; guards everything below that is not atomic
  std::atomic<int> threads_{0};  // 0 until the first use or set_threads
  std::atomic<int> team_{0};     // policy_.team(), for readers without the lock
  int started_ = 1;              // slot 0 is the caller's
  uint32_t generation_ = 0;

  std::unique_ptr<Sleeper[]> sleepers_;
  std::unique_ptr<ChunkTimes[]> times_;

  // The job being run. The function and context are written before its claim word is published and read only by a
  // thread that has claimed one of its chunks.
  ChunkFunction job_function_ = nullptr;
  void* job_context_ = nullptr;
  std::atomic<uint64_t> claims_{0};
  std::atomic<uint32_t> published_{0};  // the latest job's generation: what waiting threads watch
  std::atomic<int> job_team_{0};
  std::atomic<uint32_t> done_{0};  // chunks finished
  std::atomic<uint32_t> caller_sleeping_{0};
  std::mutex failure_mutex_;
  std::exception_ptr job_failure_;  // the first exception a chunk of the job threw

  TeamPolicy policy_;  // how many threads jobs run on
  int64_t jobs_ = 0;
};

// Never destroyed: its threads may be asleep in it when the process exits, and an op run from another static
// object's destructor still finds it.
Pool* pool_instance() {
  static Pool* const instance = new Pool;
  return instance;
}
Pool& pool() { return *pool_instance(); }

}  // namespace

void run_chunks(int64_t chunks, ChunkFunction run, void* context, int max_threads) {
  pool().run(chunks, run, context, max_threads);
}

void set_pool_threads(int threads) {
  if (threads < 1 || threads > kMaxCpuThreads)
    throw UsageError("CPU threads must be from 1 to " + std::to_string(kMaxCpuThreads) + ", got " +
                     std::to_string(threads));
  pool().set_threads(threads);
}

int pool_threads() { return pool().threads(); }

int pool_team() { return pool().team(); }

PoolCounters pool_counters() { return pool().counters(); }

}  // namespace loom::cpu
