// The CPU pool (engine/runtime/cpu_pool.h): every chunk of every job runs once, on a slot within the count, from any
// thread and nested; and the rule that sizes its team (engine/runtime/cpu_team_policy.h), with made-up measurements.
#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/runtime/cpu_pool.h"
#include "engine/runtime/cpu_team_policy.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/errors.h"
#include "kernels/cpu_parallel.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// Runs `jobs` jobs of `chunks` chunks and checks that each chunk ran exactly once, on a slot below the pool's size.
void expect_every_chunk_once(int64_t chunks, int jobs) {
  std::vector<std::atomic<int>> runs(static_cast<size_t>(chunks));
  std::atomic<int> bad_slots{0};
  const int slots = cpu_threads();
  for (int job = 0; job < jobs; ++job) {
    for (auto& count : runs) count.store(0);
    cpu::parallel_chunks(chunks, [&](int64_t chunk, int slot) {
      runs[static_cast<size_t>(chunk)].fetch_add(1);
      if (slot < 0 || slot >= slots) bad_slots.fetch_add(1);
    });
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      ASSERT_EQ(runs[static_cast<size_t>(chunk)].load(), 1) << "chunk " << chunk << " of job " << job;
  }
  EXPECT_EQ(bad_slots.load(), 0);
}

TEST(CpuPool, EveryChunkRunsOnceOnASlotWithinTheCount) {
  for (int threads : {1, 2, 3, 8}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ScopedCpuThreads size(threads);
    EXPECT_EQ(cpu_threads(), threads);
    for (int64_t chunks : {int64_t{1}, int64_t{2}, int64_t{7}, int64_t{64}, cpu::kMaxChunks})
      expect_every_chunk_once(chunks, chunks == cpu::kMaxChunks ? 1 : 200);
  }
}

// Chunks that hold until two threads have entered: a job cannot finish on its caller alone. The pool's threads have
// slept between jobs (their spin is 100 µs), so a bell wakes them; the caller's partner then takes 5 ms over its
// chunk, so the caller sleeps for it and is woken. (The count is set afresh before each job, so that the pool's
// judgement of its cores, which a loaded machine may sway, cannot have shrunk the team to one.)
TEST(CpuPool, SleepingThreadsAreWokenForAJobAndWakeTheCaller) {
  ScopedCpuThreads size(2);
  for (int job = 0; job < 20; ++job) {
    set_cpu_threads(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::atomic<int> entered{0}, timeouts{0};
    std::atomic<unsigned> slots{0};
    cpu::parallel_chunks(2, [&](int64_t, int slot) {
      slots.fetch_or(1u << slot);
      entered.fetch_add(1);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (entered.load() < 2)
        if (std::chrono::steady_clock::now() > give_up) {
          timeouts.fetch_add(1);
          return;
        }
      if (slot != 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
    ASSERT_EQ(timeouts.load(), 0) << "job " << job << ": the second thread never came";
    EXPECT_EQ(slots.load(), 3u) << "job " << job << ": both slots, 0 and 1";
  }
}

TEST(CpuPool, AThreadRunsItsChunksInOrderOnOneSlot) {
  // A slot is one thread: the chunks one slot ran never overlap in time (the per-thread scratch depends on it).
  ScopedCpuThreads size(4);
  std::vector<std::atomic<int>> busy(4);
  std::atomic<int> overlaps{0};
  for (int job = 0; job < 100; ++job)
    cpu::parallel_chunks(32, [&](int64_t, int slot) {
      if (busy[static_cast<size_t>(slot)].fetch_add(1) != 0) overlaps.fetch_add(1);
      volatile double spin = 0;
      for (int i = 0; i < 2000; ++i) spin = spin + i;
      busy[static_cast<size_t>(slot)].fetch_sub(1);
    });
  EXPECT_EQ(overlaps.load(), 0);
}

TEST(CpuPool, AJobStartedInsideAChunkRunsOnItsThread) {
  ScopedCpuThreads size(3);
  std::atomic<int> inner_runs{0}, foreign_slots{0};
  cpu::parallel_chunks(6, [&](int64_t, int outer_slot) {
    const std::thread::id me = std::this_thread::get_id();
    cpu::parallel_chunks(5, [&](int64_t, int inner_slot) {
      inner_runs.fetch_add(1);
      if (std::this_thread::get_id() != me || inner_slot != outer_slot) foreign_slots.fetch_add(1);
    });
  });
  EXPECT_EQ(inner_runs.load(), 30);
  EXPECT_EQ(foreign_slots.load(), 0);
}

TEST(CpuPool, JobsFromSeveralThreadsAtOnceAllComplete) {
  // One job runs on the pool at a time; another thread's job meanwhile runs on that thread, whole.
  ScopedCpuThreads size(3);
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  for (int caller = 0; caller < 3; ++caller)
    callers.emplace_back([&] {
      std::vector<std::atomic<int>> runs(40);
      for (int job = 0; job < 300; ++job) {
        for (auto& count : runs) count.store(0);
        cpu::parallel_chunks(40, [&](int64_t chunk, int) { runs[static_cast<size_t>(chunk)].fetch_add(1); });
        for (auto& count : runs)
          if (count.load() != 1) failures.fetch_add(1);
      }
    });
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(CpuPool, AChunksExceptionReachesTheCallerAndThePoolGoesOn) {
  for (int threads : {1, 3}) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ScopedCpuThreads size(threads);
    EXPECT_THROW(cpu::parallel_chunks(20,
                                      [](int64_t chunk, int) {
                                        if (chunk == 5) throw Error("chunk 5 failed");
                                      }),
                 Error);
    expect_every_chunk_once(20, 50);
    int64_t count = 0;  // a lambda passed as an lvalue
    auto body = [&](int64_t, int) { __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED); };
    cpu::parallel_chunks(9, body);
    EXPECT_EQ(count, 9);
  }
}

TEST(CpuPool, ALimitBoundsTheSlotsAndSettingTheCountInsideAChunkIsRefused) {
  ScopedCpuThreads size(4);
  std::atomic<int> high_slots{0}, refusals{0};
  for (int job = 0; job < 50; ++job)
    cpu::parallel_chunks(
        16,
        [&](int64_t, int slot) {
          if (slot >= 2) high_slots.fetch_add(1);
        },
        2);
  EXPECT_EQ(high_slots.load(), 0);
  cpu::parallel_chunks(3, [&](int64_t, int) {
    try {
      set_cpu_threads(2);
    } catch (const Error& e) {
      if (std::string(e.what()).find("inside a CPU op's chunk") != std::string::npos) refusals.fetch_add(1);
    }
  });
  EXPECT_EQ(refusals.load(), 3);
  EXPECT_EQ(cpu_threads(), 4);
}

TEST(CpuPool, BadChunkCountsAreRefused) {
  const cpu::ChunkFunction nothing = [](void*, int64_t, int) {};
  expect_one_line_error<Error>([&] { cpu::run_chunks(0, nothing, nullptr, kMaxCpuThreads); },
                               {"run_chunks", "1 to 65535", "got 0"});
  expect_one_line_error<Error>([&] { cpu::run_chunks(cpu::kMaxChunks + 1, nothing, nullptr, kMaxCpuThreads); },
                               {"got 65536"});
  expect_one_line_error<Error>([&] { cpu::run_chunks(4, nothing, nullptr, 0); },
                               {"run_chunks", "1 thread or more", "got 0"});
  EXPECT_THROW(set_cpu_threads(0), UsageError);
}

TEST(CpuPool, ParallelRangesCoverEveryItemOnceInWholeRanges) {
  ScopedCpuThreads size(3);
  for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{3} * cpu::kMinWorkPerChunk + 7}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
    cpu::parallel_ranges(n, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "item " << i << " of " << n;
  }
}

// The team rule, fed made-up chunk times: ms of wall-clock time and the share of it the threads ran.
constexpr int64_t kMs = 1'000'000;

void add_stretch(cpu::TeamPolicy& policy, double share, int64_t now_ns) {
  const int64_t wall = cpu::TeamPolicy::kWindowNs;
  policy.add_job(wall, static_cast<int64_t>(share * static_cast<double>(wall)), now_ns);
}

TEST(CpuTeamPolicy, KeepsEveryThreadWhileTheCoresAreItsOwn) {
  cpu::TeamPolicy policy(4);
  for (int stretch = 0; stretch < 50; ++stretch) {
    EXPECT_EQ(policy.team_for_a_job(stretch * 20 * kMs), 4);
    add_stretch(policy, 0.95, stretch * 20 * kMs);
  }
  EXPECT_EQ(policy.shrinks(), 0);
  EXPECT_EQ(policy.trials(), 0);
}

TEST(CpuTeamPolicy, GoesDownAThreadPerSharedStretchButNeverBelowOne) {
  cpu::TeamPolicy policy(3);
  add_stretch(policy, 0.5, 0);
  EXPECT_EQ(policy.team(), 2);
  add_stretch(policy, 0.5, kMs);
  EXPECT_EQ(policy.team(), 1);
  add_stretch(policy, 0.1, 2 * kMs);
  EXPECT_EQ(policy.team(), 1);
  EXPECT_EQ(policy.shrinks(), 2);
  EXPECT_DOUBLE_EQ(policy.worst_share(), 0.1);
  // Part of a stretch decides nothing.
  cpu::TeamPolicy partial(2);
  partial.add_job(cpu::TeamPolicy::kWindowNs / 2, 0, 0);
  EXPECT_EQ(partial.team(), 2);
}

TEST(CpuTeamPolicy, TriesAThreadMoreAfterWaitsThatDoubleWhileTrialsFail) {
  cpu::TeamPolicy policy(2);
  add_stretch(policy, 0.5, 0);  // shrunk at t = 0
  EXPECT_EQ(policy.team_for_a_job(cpu::TeamPolicy::kFirstTrialAfterNs - 1), 1);
  int64_t now = cpu::TeamPolicy::kFirstTrialAfterNs;
  int64_t wait = cpu::TeamPolicy::kFirstTrialAfterNs;
  for (int trial = 1; trial <= 8; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    EXPECT_EQ(policy.team_for_a_job(now), 2);  // the trial
    EXPECT_EQ(policy.trials(), trial);
    add_stretch(policy, 0.6, now);  // fails
    EXPECT_EQ(policy.team(), 1);
    wait = std::min(2 * wait, cpu::TeamPolicy::kLastTrialAfterNs);
    EXPECT_EQ(policy.team_for_a_job(now + wait - 1), 1);
    now += wait;
  }
  EXPECT_EQ(wait, cpu::TeamPolicy::kLastTrialAfterNs);
  // A trial that holds its share keeps the thread, and the next shrink waits the first wait again.
  EXPECT_EQ(policy.team_for_a_job(now), 2);
  add_stretch(policy, 0.9, now);
  EXPECT_EQ(policy.team(), 2);
  add_stretch(policy, 0.5, now + kMs);
  EXPECT_EQ(policy.team_for_a_job(now + kMs + cpu::TeamPolicy::kFirstTrialAfterNs), 2);
}

TEST(CpuTeamPolicy, AStretchIsJudgedOnTheTrialsOwnChunks) {
  cpu::TeamPolicy policy(2);
  add_stretch(policy, 0.5, 0);
  // Half a stretch at a poor share before the trial is forgotten when it starts.
  policy.add_job(cpu::TeamPolicy::kWindowNs / 2, 0, kMs);
  EXPECT_EQ(policy.team_for_a_job(cpu::TeamPolicy::kFirstTrialAfterNs), 2);
  policy.add_job(cpu::TeamPolicy::kWindowNs / 2, cpu::TeamPolicy::kWindowNs / 2, cpu::TeamPolicy::kFirstTrialAfterNs);
  EXPECT_EQ(policy.team(), 2);
  add_stretch(policy, 1.0, cpu::TeamPolicy::kFirstTrialAfterNs);
  EXPECT_EQ(policy.team(), 2);
  EXPECT_EQ(policy.shrinks(), 1);
}

}  // namespace
}  // namespace loom::test
