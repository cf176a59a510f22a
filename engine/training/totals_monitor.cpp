#include "engine/training/totals_monitor.h"

#include "engine/runtime/cuda_memory.h"
#include "kernels/totals.h"

namespace loom {

TotalsMonitor::TotalsMonitor(Device device) : device_(device) {
  if (device_ == Device::CUDA) {
    staging_ = Buffer(Memory::PinnedHost, kTotalsSlots * sizeof(float));
    event_ = std::make_unique<CudaEvent>(CudaEvent::Timing::Off);
  }
}

TotalsMonitor::~TotalsMonitor() {
  // A snapshot still in flight (an exception left the epoch early) would land in freed pinned memory: wait for it.
  if (event_ && in_flight_) event_->wait_or_warn();
}

void TotalsMonitor::reset() {
  if (event_ && in_flight_) event_->wait();
  in_flight_ = false;
  last_request_ = Clock::time_point{};
  in_flight_samples_ = landed_samples_ = 0;
  landed_loss_sum_ = landed_correct_ = 0;
}

void TotalsMonitor::request(const Tensor& totals, int64_t samples) {
  if (device_ == Device::CPU) {  // the CPU has finished the work already: read directly
    landed_loss_sum_ = totals.f32()[kLossSum];
    landed_correct_ = totals.f32()[kCorrectCount];
    landed_samples_ = samples;
    return;
  }
  if (in_flight_) return;
  const Clock::time_point now = Clock::now();
  if (now - last_request_ < kInterval) return;
  last_request_ = now;
  cuda_memory::copy(staging_.data(), totals.raw(), kTotalsSlots * sizeof(float), /*wait=*/false);
  event_->record();
  in_flight_ = true;
  in_flight_samples_ = samples;
}

bool TotalsMonitor::latest(double& loss, double& accuracy) {
  if (in_flight_) {
    if (event_->done()) {
      const float* values = static_cast<const float*>(staging_.data());
      landed_loss_sum_ = values[kLossSum];
      landed_correct_ = values[kCorrectCount];
      landed_samples_ = in_flight_samples_;
      in_flight_ = false;
    }
  }
  if (landed_samples_ == 0) return false;
  loss = landed_loss_sum_ / static_cast<double>(landed_samples_);
  accuracy = landed_correct_ / static_cast<double>(landed_samples_);
  return true;
}

}  // namespace loom
