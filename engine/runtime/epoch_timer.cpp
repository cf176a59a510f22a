#include "engine/runtime/epoch_timer.h"

namespace loom {

EpochTimer::EpochTimer(Device device) {
  if (device != Device::CUDA) return;
  start_ = std::make_unique<CudaEvent>(CudaEvent::Timing::On);
  stop_ = std::make_unique<CudaEvent>(CudaEvent::Timing::On);
}

EpochTimer::~EpochTimer() = default;

void EpochTimer::start() {
  if (start_) start_->record();
}

void EpochTimer::stop() {
  if (stop_) stop_->record();
}

double EpochTimer::elapsed_ms() const { return start_ ? CudaEvent::elapsed_ms(*start_, *stop_) : 0.0; }

}  // namespace loom
