// Times stretches of GPU work with CUDA events recorded on the context's stream (no host clock involved, no
// synchronization until the elapsed time is asked for). On the CPU it does nothing and reports 0.
#pragma once

#include <chrono>
#include <memory>

#include "engine/runtime/cuda_event.h"
#include "engine/runtime/device.h"

namespace loom {

class EpochTimer {
 public:
  explicit EpochTimer(Device device);
  ~EpochTimer();
  EpochTimer(const EpochTimer&) = delete;
  EpochTimer& operator=(const EpochTimer&) = delete;

  void start();
  void stop();
  double elapsed_ms() const;  // waits for the stop event

 private:
  std::unique_ptr<CudaEvent> start_, stop_;  // none on the CPU
};

// Host wall-clock seconds since `start` (the figure reported beside the GPU's event time).
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace loom
