// Lets the host show running loss and accuracy while the GPU trains, without ever waiting for it: a snapshot of the
// device totals is copied into pinned memory behind the queued work, and read only once its event has fired.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "engine/runtime/buffer.h"
#include "engine/runtime/cuda_event.h"
#include "engine/runtime/tensor.h"

namespace loom {

class TotalsMonitor {
 public:
  explicit TotalsMonitor(Device device);
  ~TotalsMonitor();
  TotalsMonitor(const TotalsMonitor&) = delete;
  TotalsMonitor& operator=(const TotalsMonitor&) = delete;

  // Snapshot `totals` as they will be after the work queued so far, which covers `samples` samples. Does nothing
  // while an earlier snapshot is still in flight, or within kInterval of the last one: called after every step, it
  // costs a clock read, and the GPU a small copy every few milliseconds. Never blocks.
  void request(const Tensor& totals, int64_t samples);
  // The newest snapshot that has landed, as means per sample; false if none has yet.
  bool latest(double& loss, double& accuracy);
  // Forget what was seen, for a new epoch (whose totals start from zero). Call when the stream is idle.
  void reset();

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kInterval = std::chrono::milliseconds(16);

  Device device_;
  Clock::time_point last_request_{};
  Buffer staging_;                    // pinned: [loss_sum, correct_count]
  std::unique_ptr<CudaEvent> event_;  // fires when the snapshot has landed in staging_ (the GPU only)
  bool in_flight_ = false;
  int64_t in_flight_samples_ = 0;
  int64_t landed_samples_ = 0;
  double landed_loss_sum_ = 0, landed_correct_ = 0;
};

}  // namespace loom
