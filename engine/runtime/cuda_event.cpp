#include "engine/runtime/cuda_event.h"

#include <cuda_runtime.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"

namespace loom {

CudaEvent::CudaEvent(Timing timing) {
  LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&event_, timing == Timing::On ? cudaEventDefault : cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() {
  if (event_) LOOM_CUDA_WARN(cudaEventDestroy(event_));
}

void CudaEvent::record() { LOOM_CUDA_CHECK(cudaEventRecord(event_, CudaContext::get().stream())); }

bool CudaEvent::done() const {
  const cudaError_t status = cudaEventQuery(event_);
  if (status == cudaSuccess) return true;
  if (status != cudaErrorNotReady) LOOM_CUDA_CHECK(status);
  // "Not ready" is an answer, not an error, but the runtime also leaves it in its last-error slot, where the next
  // launch check (cudaGetLastError) would take it for a failed launch. Clear it, and only it: any other error waiting
  // there belongs to someone else's check.
  if (cudaPeekAtLastError() == cudaErrorNotReady) (void)cudaGetLastError();
  return false;
}

void CudaEvent::wait() const { LOOM_CUDA_CHECK(cudaEventSynchronize(event_)); }
void CudaEvent::wait_or_warn() const noexcept { LOOM_CUDA_WARN(cudaEventSynchronize(event_)); }

double CudaEvent::elapsed_ms(const CudaEvent& start, const CudaEvent& stop) {
  stop.wait();
  float ms = 0.f;
  LOOM_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, stop.event_));
  return ms;
}

}  // namespace loom
