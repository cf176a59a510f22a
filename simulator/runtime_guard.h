// What every call of the simulated CUDA runtime goes through: the one lock, the rule that host functions make no CUDA
// calls, the context's sticky error and the calling thread's last-error slot.
#pragma once

#include <mutex>

#include <cuda_runtime_api.h>

#include "simulator/device.h"

namespace loom::sim {

// One lock around the whole runtime: loom calls CUDA from its main thread while a monitor may poll events from
// another, and the executor runs queued work while holding it (recursive: that work may report through the runtime).
std::recursive_mutex& runtime_mutex();

// The context's sticky error, cudaSuccess until device_fault sets one.
cudaError_t sticky_error();

// cudaGetLastError and cudaPeekAtLastError: the sticky error while there is one (never cleared), else the calling
// thread's slot.
cudaError_t take_last_error();
cudaError_t peek_last_error();

// Marks the calling thread as running a host function (cudaLaunchHostFunc) for the scope's lifetime.
class HostFunctionScope {
 public:
  HostFunctionScope();
  ~HostFunctionScope();
  HostFunctionScope(const HostFunctionScope&) = delete;
  HostFunctionScope& operator=(const HostFunctionScope&) = delete;
};
bool in_host_function();

// Runs one API call under the lock. A host function may not call CUDA (cudaErrorNotPermitted, checked before taking
// the lock, which the thread synchronizing with that host function may hold); after a device fault every call
// answers the sticky error. Other failures are recorded in the calling thread's last-error slot, as CUDA does.
template <typename Body>
cudaError_t api_call(Body&& body) {
  if (in_host_function()) {
    set_last_error(cudaErrorNotPermitted);
    return cudaErrorNotPermitted;
  }
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  if (sticky_error() != cudaSuccess) return sticky_error();
  const cudaError_t status = body();
  if (sticky_error() != cudaSuccess) return sticky_error();  // the body ran work that faulted
  set_last_error(status);
  return status;
}

}  // namespace loom::sim
