// How many threads the CPU pool (engine/runtime/cpu_pool.h) runs a job on, decided from what its threads got of their
// cores. Kept apart from the threads themselves so that the rule can be tested with made-up measurements.
//
// The pool reports each job's chunks: their wall-clock time and their CPU time, summed over the threads. Over every
// stretch of kWindowNs of chunk time (summed over the threads: about kWindowNs / T of real time on T threads), the
// share (CPU over wall) says whether the threads had their cores to themselves: below kSharedBelow, another program
// shares some core, a thread of the team is paused for whole time slices at a time, and the others wait for its
// chunks; the team then goes down a thread. The share over all the threads, not the least of theirs, is what is
// judged: on a quiet two-core virtual machine a single thread's share dips below 0.8 in one stretch of forty or so
// (the host pausing it), and each needless shrink costs half a second on fewer threads, while the team's share stays
// above 0.8 (0.81 at worst in three runs of 300 steps) and falls to 0.6-0.7 with another program on one of the two
// cores. After a shrink a thread more is tried again, first after kFirstTrialAfterNs, then, while the trials keep
// failing, after twice as long each time up to kLastTrialAfterNs; a trial that holds its share keeps the thread and
// starts the wait afresh.
#pragma once

#include <cstdint>

namespace loom::cpu {

class TeamPolicy {
 public:
  static constexpr int64_t kWindowNs = 20'000'000;
  static constexpr double kSharedBelow = 0.8;
  static constexpr int64_t kFirstTrialAfterNs = 500'000'000;
  static constexpr int64_t kLastTrialAfterNs = 16'000'000'000;

  // A pool of `threads` threads (at least 1), all in the team.
  explicit TeamPolicy(int threads);

  int threads() const { return threads_; }
  int team() const { return team_; }

  // Before a job, at time `now_ns` (any monotonic clock): the team to run it on, one thread larger than before when a
  // trial is due.
  int team_for_a_job(int64_t now_ns);

  // After a job that ran on more than one thread: its chunks' wall-clock and CPU time, summed over the threads.
  void add_job(int64_t wall_ns, int64_t cpu_ns, int64_t now_ns);

  int64_t shrinks() const { return shrinks_; }
  int64_t trials() const { return trials_; }
  double worst_share() const { return worst_share_; }

 private:
  int threads_;
  int team_;
  int64_t window_wall_ns_ = 0, window_cpu_ns_ = 0;
  bool trying_ = false;
  int64_t trial_after_ns_ = kFirstTrialAfterNs;
  int64_t next_trial_ns_ = 0;
  int64_t shrinks_ = 0, trials_ = 0;

  void forget_the_stretch();
  double worst_share_ = 1.0;
};

}  // namespace loom::cpu
