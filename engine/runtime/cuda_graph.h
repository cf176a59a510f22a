// One captured sequence of work on the context's stream, replayed with a single launch. A training step is dozens
// of small kernels; at batch 32 their launch costs exceed their run time, and a graph pays them once.
//
// A graph owns none of the memory its kernels use; it holds raw pointers. Once any device or pinned buffer has been
// freed since the capture (a grown activation buffer or workspace, a data set uploaded anew), the graph may point at
// freed memory: it is stale, launching it is refused, and its owner recaptures.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

struct CUgraph_st;      // cudaGraph_t
struct CUgraphExec_st;  // cudaGraphExec_t

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
  // Captured, but a buffer was freed since: it may point at freed memory and must be captured again.
  bool stale() const;
  // Enqueues one replay on the context's stream; no host synchronization. Throws for a stale graph.
  void launch() const;
  void reset();

 private:
  CUgraph_st* graph_ = nullptr;
  CUgraphExec_st* exec_ = nullptr;
  uint64_t releases_at_capture_ = 0;
};

}  // namespace loom
