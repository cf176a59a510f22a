#include "engine/runtime/epoch_timer.h"

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"

namespace loom {

EpochTimer::EpochTimer(Device device) {
  if (device != Device::CUDA) return;
  LOOM_CUDA_CHECK(cudaEventCreate(&start_));
  LOOM_CUDA_CHECK(cudaEventCreate(&stop_));
}

EpochTimer::~EpochTimer() {
  if (start_) LOOM_CUDA_WARN(cudaEventDestroy(start_));
  if (stop_) LOOM_CUDA_WARN(cudaEventDestroy(stop_));
}

void EpochTimer::start() {
  if (start_) LOOM_CUDA_CHECK(cudaEventRecord(start_, CudaContext::get().stream()));
}

void EpochTimer::stop() {
  if (stop_) LOOM_CUDA_CHECK(cudaEventRecord(stop_, CudaContext::get().stream()));
}

double EpochTimer::elapsed_ms() const {
  if (!start_) return 0.0;
  LOOM_CUDA_CHECK(cudaEventSynchronize(stop_));
  float ms = 0.f;
  LOOM_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms;
}

}  // namespace loom
