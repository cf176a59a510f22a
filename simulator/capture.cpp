#include "simulator/capture.h"

#include <map>
#include <memory>

namespace loom::sim {
namespace {

struct Graph {
  std::vector<Operation> operations;
};

struct Captures {
  std::map<uint64_t, std::unique_ptr<Capture>> active;  // by id
  uint64_t next_id = 1;
  std::map<Graph*, std::unique_ptr<Graph>> graphs;
  std::map<Graph*, std::unique_ptr<Graph>> execs;  // an executable graph holds its own copy of the operations
};

Captures& captures() {
  static auto* state = new Captures();
  return *state;
}

Graph* find(std::map<Graph*, std::unique_ptr<Graph>>& graphs, const void* handle) {
  const auto found = graphs.find(static_cast<Graph*>(const_cast<void*>(handle)));
  return found == graphs.end() ? nullptr : found->first;
}

void finish(Stream& stream) {
  const uint64_t id = stream.capture->id;
  stream.capture = nullptr;
  captures().active.erase(id);
}

}  // namespace

cudaError_t begin_capture(Stream& stream, cudaStreamCaptureMode mode) {
  if (mode != cudaStreamCaptureModeGlobal && mode != cudaStreamCaptureModeThreadLocal &&
      mode != cudaStreamCaptureModeRelaxed)
    return cudaErrorInvalidValue;
  if (stream.legacy) return cudaErrorStreamCaptureUnsupported;  // the legacy stream cannot be captured
  if (stream.capture) return cudaErrorIllegalState;
  auto capture = std::make_unique<Capture>();
  capture->id = captures().next_id++;
  capture->stream = &stream;
  capture->mode = mode;
  capture->thread = std::this_thread::get_id();
  stream.capture = capture.get();
  captures().active.emplace(capture->id, std::move(capture));
  return cudaSuccess;
}

cudaError_t end_capture(Stream& stream, cudaGraph_t* graph) {
  if (!graph) return cudaErrorInvalidValue;
  Capture* capture = stream.capture;
  if (!capture) return cudaErrorIllegalState;
  if (capture->mode != cudaStreamCaptureModeRelaxed && capture->thread != std::this_thread::get_id())
    return cudaErrorStreamCaptureWrongThread;
  *graph = nullptr;
  if (capture->invalidated) {
    finish(stream);
    return cudaErrorStreamCaptureInvalidated;
  }
  auto made = std::make_unique<Graph>();
  made->operations = std::move(capture->operations);
  *graph = reinterpret_cast<cudaGraph_t>(made.get());
  captures().graphs.emplace(made.get(), std::move(made));
  finish(stream);
  return cudaSuccess;
}

void abandon_capture(Stream& stream) {
  if (stream.capture) finish(stream);
}

Capture* active_capture(uint64_t id) {
  const auto found = captures().active.find(id);
  return found == captures().active.end() ? nullptr : found->second.get();
}

bool blocking_stream_capturing() {
  for (const auto& [id, capture] : captures().active)
    if (capture->stream->blocking) return true;
  return false;
}

cudaError_t check_unsafe_call() {
  cudaError_t status = cudaSuccess;
  const std::thread::id self = std::this_thread::get_id();
  for (auto& [id, capture] : captures().active) {
    const bool prohibits = capture->thread == self ? capture->mode != cudaStreamCaptureModeRelaxed
                                                   : capture->mode == cudaStreamCaptureModeGlobal;
    if (prohibits) {
      capture->invalidated = true;
      status = cudaErrorStreamCaptureUnsupported;
    }
  }
  return status;
}

cudaError_t check_legacy_stream_use() {
  if (!blocking_stream_capturing()) return cudaSuccess;
  for (auto& [id, capture] : captures().active)
    if (capture->stream->blocking) capture->invalidated = true;
  return cudaErrorStreamCaptureImplicit;
}

cudaError_t check_device_synchronization() {
  if (captures().active.empty()) return cudaSuccess;
  for (auto& [id, capture] : captures().active) capture->invalidated = true;
  return cudaErrorStreamCaptureUnsupported;
}

cudaError_t check_stream_synchronization(Stream& stream) {
  if (stream.legacy) return check_legacy_stream_use();
  if (!stream.capture) return cudaSuccess;
  stream.capture->invalidated = true;
  return cudaErrorStreamCaptureUnsupported;
}

cudaError_t check_event_synchronization(const Event& event) {
  Capture* capture = event.capture_id ? active_capture(event.capture_id) : nullptr;
  if (!capture) return cudaSuccess;
  capture->invalidated = true;
  return cudaErrorCapturedEvent;
}

cudaError_t submit(cudaStream_t handle, Operation operation, uint64_t* sequence) {
  if (sequence) *sequence = 0;
  Stream* stream = find_stream(handle);
  if (!stream) return cudaErrorInvalidResourceHandle;
  if (stream->legacy) {
    if (const cudaError_t status = check_legacy_stream_use(); status != cudaSuccess) return status;
  }
  if (stream->capture) {
    if (stream->capture->invalidated) return cudaErrorStreamCaptureInvalidated;
    stream->capture->operations.push_back(std::move(operation));
    return cudaSuccess;
  }
  const uint64_t queued = queue_operation(*stream, std::move(operation));
  if (sequence) *sequence = queued;
  return cudaSuccess;
}

bool destroy_graph(cudaGraph_t graph) { return captures().graphs.erase(reinterpret_cast<Graph*>(graph)) == 1; }

cudaError_t instantiate_graph(cudaGraphExec_t* exec, cudaGraph_t graph) {
  if (!exec) return cudaErrorInvalidValue;
  Graph* source = find(captures().graphs, graph);
  if (!source) return cudaErrorInvalidValue;
  auto made = std::make_unique<Graph>(*source);
  *exec = reinterpret_cast<cudaGraphExec_t>(made.get());
  captures().execs.emplace(made.get(), std::move(made));
  return cudaSuccess;
}

bool destroy_graph_exec(cudaGraphExec_t exec) { return captures().execs.erase(reinterpret_cast<Graph*>(exec)) == 1; }

const std::vector<Operation>* graph_exec_operations(cudaGraphExec_t exec) {
  Graph* graph = find(captures().execs, exec);
  return graph ? &graph->operations : nullptr;
}

}  // namespace loom::sim
