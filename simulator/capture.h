// Stream capture and graphs. A capturing stream records the work queued on it into a graph instead of running it;
// an instantiated graph, launched, queues the recorded operations again (their closures run at every replay).
// CUDA's capture rules are enforced with CUDA's errors; a call that breaks one also invalidates the capture
// sequences it concerns, whose cudaStreamEndCapture then fails with cudaErrorStreamCaptureInvalidated.
#pragma once

#include <cstdint>
#include <thread>
#include <vector>

#include <cuda_runtime_api.h>

#include "simulator/streams.h"

namespace loom::sim {

struct Capture {
  uint64_t id = 0;
  Stream* stream = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  bool invalidated = false;
  std::vector<Operation> operations;
};

// Queues `operation` on the stream `handle` names, or records it into that stream's capture, checking the rules for
// the stream. `sequence`, if given, receives the queued operation's number: 0 when it was captured.
cudaError_t submit(cudaStream_t handle, Operation operation, uint64_t* sequence = nullptr);

cudaError_t begin_capture(Stream& stream, cudaStreamCaptureMode mode);
cudaError_t end_capture(Stream& stream, cudaGraph_t* graph);
// Ends the stream's capture, if any, without a graph (the stream is being destroyed).
void abandon_capture(Stream& stream);
// The capture sequence `id` while it is still capturing, else nullptr.
Capture* active_capture(uint64_t id);
// Whether a blocking stream is capturing, which the legacy stream would implicitly synchronize with.
bool blocking_stream_capturing();

// The rules, each returning cudaSuccess or the error CUDA gives (and invalidating what CUDA invalidates):
// a potentially unsafe call (cudaMalloc, cudaFree, a synchronous copy...) while the calling thread captures in global
// or thread-local mode, or another thread in global mode: cudaErrorStreamCaptureUnsupported.
cudaError_t check_unsafe_call();
// use of the legacy stream while a blocking stream (which it implicitly synchronizes with) captures:
// cudaErrorStreamCaptureImplicit.
cudaError_t check_legacy_stream_use();
// synchronizing the whole device while any stream captures: cudaErrorStreamCaptureUnsupported.
cudaError_t check_device_synchronization();
// synchronizing or querying a capturing stream: cudaErrorStreamCaptureUnsupported.
cudaError_t check_stream_synchronization(Stream& stream);
// synchronizing or querying an event last recorded in a capturing stream: cudaErrorCapturedEvent.
cudaError_t check_event_synchronization(const Event& event);

// Graphs: the handles cudaStreamEndCapture, cudaGraphInstantiate and cudaGraphLaunch hand around.
bool destroy_graph(cudaGraph_t graph);
cudaError_t instantiate_graph(cudaGraphExec_t* exec, cudaGraph_t graph);
bool destroy_graph_exec(cudaGraphExec_t exec);
// The operations a launch of `exec` queues; nullptr when `exec` is not a live executable graph.
const std::vector<Operation>* graph_exec_operations(cudaGraphExec_t exec);

}  // namespace loom::sim
