#include "engine/runtime/cuda_graph.h"

#include <cuda_runtime.h>

#include "engine/runtime/buffer.h"
#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"

namespace loom {

CudaGraph::~CudaGraph() { reset(); }

void CudaGraph::reset() {
  if (exec_) LOOM_CUDA_WARN(cudaGraphExecDestroy(exec_));
  if (graph_) LOOM_CUDA_WARN(cudaGraphDestroy(graph_));
  exec_ = nullptr;
  graph_ = nullptr;
}

void CudaGraph::capture(const std::function<void()>& enqueue) {
  reset();
  releases_at_capture_ = Buffer::gpu_visible_releases();
  cudaStream_t stream = CudaContext::get().stream();
  LOOM_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);  // leave capture mode whatever happened
    if (broken) cudaGraphDestroy(broken);
    (void)cudaGetLastError();  // the failed capture's error is reported by the rethrow below
    throw;
  }
  // A failed end of capture or instantiation is also left in the runtime's last-error slot; clear it before throwing,
  // or the caller's fallback to ordinary launches would trip over it at its first launch check.
  cudaError_t status = cudaStreamEndCapture(stream, &graph_);
  if (status == cudaSuccess) status = cudaGraphInstantiate(&exec_, graph_, 0);
  if (status != cudaSuccess) {
    exec_ = nullptr;
    reset();
    (void)cudaGetLastError();
    LOOM_CUDA_CHECK(status);
  }
}

bool CudaGraph::stale() const { return ready() && Buffer::gpu_visible_releases() != releases_at_capture_; }

void CudaGraph::launch() const {
  if (!ready()) throw Error("CudaGraph::launch: nothing was captured");
  if (stale())
    throw Error("CudaGraph::launch: memory the graph uses may have been freed since its capture; capture it again");
  LOOM_CUDA_CHECK(cudaGraphLaunch(exec_, CudaContext::get().stream()));
}

}  // namespace loom
