#include "engine/training/totals_monitor.h"

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/totals.h"

namespace loom {

TotalsMonitor::TotalsMonitor(Device device) : device_(device) {
  if (device_ == Device::CUDA) {
    staging_ = Buffer(Memory::PinnedHost, kTotalsSlots * sizeof(float));
    LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
  }
}

TotalsMonitor::~TotalsMonitor() {
  // A snapshot still in flight (an exception left the epoch early) would land in freed pinned memory: wait for it.
  if (event_ && in_flight_) LOOM_CUDA_WARN(cudaEventSynchronize(event_));
  if (event_) LOOM_CUDA_WARN(cudaEventDestroy(event_));
}

void TotalsMonitor::reset() {
  if (event_ && in_flight_) LOOM_CUDA_CHECK(cudaEventSynchronize(event_));
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
  cudaStream_t stream = CudaContext::get().stream();
  LOOM_CUDA_CHECK(cudaMemcpyAsync(staging_.data(), totals.raw(), kTotalsSlots * sizeof(float),
                                  cudaMemcpyDeviceToHost, stream));
  LOOM_CUDA_CHECK(cudaEventRecord(event_, stream));
  in_flight_ = true;
  in_flight_samples_ = samples;
}

bool TotalsMonitor::latest(double& loss, double& accuracy) {
  if (in_flight_) {
    cudaError_t status = cudaEventQuery(event_);
    if (status == cudaSuccess) {
      const float* values = static_cast<const float*>(staging_.data());
      landed_loss_sum_ = values[kLossSum];
      landed_correct_ = values[kCorrectCount];
      landed_samples_ = in_flight_samples_;
      in_flight_ = false;
    } else if (status == cudaErrorNotReady) {
      // "Not ready" is an answer, not an error, but the runtime also leaves it in its last-error slot, where the
      // next launch check (cudaGetLastError) would take it for a failed launch. Clear it, and only it: any other
      // error waiting there belongs to someone else's check.
      if (cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
    } else {
      LOOM_CUDA_CHECK(status);
    }
  }
  if (landed_samples_ == 0) return false;
  loss = landed_loss_sum_ / static_cast<double>(landed_samples_);
  accuracy = landed_correct_ / static_cast<double>(landed_samples_);
  return true;
}

}  // namespace loom
