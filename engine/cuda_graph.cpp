#include "engine/cuda_graph.h"

#include "engine/cuda_check.h"
#include "engine/cuda_context.h"

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
  cudaStream_t stream = CudaContext::get().stream();
  LOOM_CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    enqueue();
  } catch (...) {
    cudaGraph_t broken = nullptr;
    cudaStreamEndCapture(stream, &broken);  // leave capture mode whatever happened
    if (broken) cudaGraphDestroy(broken);
    cudaGetLastError();                      // the failed capture's error is reported by the rethrow below
    throw;
  }
  LOOM_CUDA_CHECK(cudaStreamEndCapture(stream, &graph_));
  LOOM_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
}

void CudaGraph::launch() const { LOOM_CUDA_CHECK(cudaGraphLaunch(exec_, CudaContext::get().stream())); }

}  // namespace loom
