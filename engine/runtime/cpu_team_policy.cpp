#include "engine/runtime/cpu_team_policy.h"

#include <algorithm>

namespace loom::cpu {

TeamPolicy::TeamPolicy(int threads) : threads_(std::max(1, threads)), team_(threads_) {}

void TeamPolicy::forget_the_stretch() { window_wall_ns_ = window_cpu_ns_ = 0; }

int TeamPolicy::team_for_a_job(int64_t now_ns) {
  if (!trying_ && team_ < threads_ && now_ns >= next_trial_ns_) {
    ++team_;
    ++trials_;
    trying_ = true;
    forget_the_stretch();  // the trial is judged on its own chunks
  }
  return team_;
}

void TeamPolicy::add_job(int64_t wall_ns, int64_t cpu_ns, int64_t now_ns) {
  window_wall_ns_ += wall_ns;
  window_cpu_ns_ += cpu_ns;
  if (window_wall_ns_ < kWindowNs) return;
  const double share = static_cast<double>(window_cpu_ns_) / static_cast<double>(window_wall_ns_);
  forget_the_stretch();
  worst_share_ = std::min(worst_share_, share);
  if (share < kSharedBelow && team_ > 1) {
    --team_;
    ++shrinks_;
    if (trying_) trial_after_ns_ = std::min(2 * trial_after_ns_, kLastTrialAfterNs);
    next_trial_ns_ = now_ns + trial_after_ns_;
  } else if (trying_) {
    trial_after_ns_ = kFirstTrialAfterNs;
    next_trial_ns_ = now_ns + trial_after_ns_;
  }
  trying_ = false;
}

}  // namespace loom::cpu
