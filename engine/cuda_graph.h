// One captured sequence of work on the context's stream, replayed with a single launch. A training step is dozens
// of small kernels; at batch 32 their launch costs exceed their run time, and a graph pays them once.
#pragma once

#include <functional>
#include <string>

#include <cuda_runtime.h>

namespace loom {

class CudaGraph {
 public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(const CudaGraph&) = delete;
  CudaGraph& operator=(const CudaGraph&) = delete;

  // Records what `enqueue` puts on the stream (nothing runs yet). On failure the stream is left out of capture
  // mode, the graph stays empty, and the error is rethrown.
  void capture(const std::function<void()>& enqueue);
  bool ready() const { return exec_ != nullptr; }
  // Enqueues one replay on the context's stream; no host synchronization.
  void launch() const;
  void reset();

 private:
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};

}  // namespace loom
