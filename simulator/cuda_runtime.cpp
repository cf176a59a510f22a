// The CUDA runtime functions loom calls, defined for the simulated device (the declarations are the real CUDA
// headers'): the device, streams, events and graphs here, memory in cuda_memory_calls.cpp, error texts in
// cuda_error_texts.cpp. Each entry point checks its arguments as CUDA does and hands the work to streams.h (queues,
// events, the executor) and capture.h (capture rules, graphs).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "simulator/capture.h"
#include "simulator/device.h"
#include "simulator/device_memory.h"
#include "simulator/runtime_guard.h"
#include "simulator/streams.h"

namespace loom::sim {
namespace {

// What an H100 SXM reports (compute capability 9.0), under the simulator's own name.
void describe_device(cudaDeviceProp& prop) {
  prop = cudaDeviceProp{};
  std::snprintf(prop.name, sizeof prop.name, "%s", kDeviceName);
  prop.totalGlobalMem = kDeviceMemoryBytes;
  prop.sharedMemPerBlock = 48 << 10;
  prop.sharedMemPerBlockOptin = 227 << 10;
  prop.reservedSharedMemPerBlock = 1 << 10;
  prop.sharedMemPerMultiprocessor = 228 << 10;
  prop.regsPerBlock = 65536;
  prop.regsPerMultiprocessor = 65536;
  prop.warpSize = 32;
  prop.memPitch = 2147483647;
  prop.maxThreadsPerBlock = 1024;
  prop.maxThreadsDim[0] = 1024;
  prop.maxThreadsDim[1] = 1024;
  prop.maxThreadsDim[2] = 64;
  prop.maxGridSize[0] = 2147483647;
  prop.maxGridSize[1] = 65535;
  prop.maxGridSize[2] = 65535;
  prop.totalConstMem = 64 << 10;
  prop.major = 9;
  prop.minor = 0;
  prop.textureAlignment = 512;
  prop.texturePitchAlignment = 32;
  prop.multiProcessorCount = 132;
  prop.maxThreadsPerMultiProcessor = 2048;
  prop.maxBlocksPerMultiProcessor = 32;
  prop.l2CacheSize = 50 << 20;
  prop.persistingL2CacheMaxSize = 30 << 20;
  prop.memoryBusWidth = 5120;
  prop.canMapHostMemory = 1;
  prop.concurrentKernels = 1;
  prop.ECCEnabled = 1;
  prop.asyncEngineCount = 2;
  prop.unifiedAddressing = 1;
  prop.streamPrioritiesSupported = 1;
  prop.globalL1CacheSupported = 1;
  prop.localL1CacheSupported = 1;
  prop.managedMemory = 1;
  prop.computePreemptionSupported = 1;
  prop.cooperativeLaunch = 1;
  prop.memoryPoolsSupported = 1;
  prop.clusterLaunch = 1;
  prop.hostNumaId = -1;
}

// The smallest interval cudaEventElapsedTime reports between two events recorded one after the other (about the
// resolution CUDA documents), so that a timing never reads as zero.
constexpr float kEventResolutionMs = 0.0005f;

}  // namespace

cudaError_t enqueue(cudaStream_t stream, std::string what, std::function<void()> work) {
  return api_call([&] {
    Operation operation;
    operation.what = std::move(what);
    operation.work = std::move(work);
    return submit(stream, std::move(operation));
  });
}

// The entry points have C linkage, as the headers declare them; defined inside the namespace, they are still those
// global functions, and see the simulator's names unqualified.
extern "C" {

// ---- device ----

cudaError_t cudaGetDeviceCount(int* count) {
  return api_call([&] {
    if (!count) return cudaErrorInvalidValue;
    *count = 1;
    return cudaSuccess;
  });
}

cudaError_t cudaGetDevice(int* device) {
  return api_call([&] {
    if (!device) return cudaErrorInvalidValue;
    *device = 0;
    return cudaSuccess;
  });
}

cudaError_t cudaSetDevice(int device) {
  return api_call([&] { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; });
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  return api_call([&] {
    if (!prop) return cudaErrorInvalidValue;
    if (device != 0) return cudaErrorInvalidDevice;
    describe_device(*prop);
    return cudaSuccess;
  });
}

cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return cudaErrorInvalidValue;
  *version = CUDART_VERSION;  // the driver the runtime was built for: neither older nor newer
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return cudaErrorInvalidValue;
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  return api_call([&] {
    if (const cudaError_t status = check_device_synchronization(); status != cudaSuccess) return status;
    run_everything();
    return cudaSuccess;
  });
}

cudaError_t cudaGetLastError() { return take_last_error(); }
cudaError_t cudaPeekAtLastError() { return peek_last_error(); }

// ---- streams ----

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  return api_call([&] {
    if (!stream || (flags & ~unsigned(cudaStreamNonBlocking)) != 0) return cudaErrorInvalidValue;
    *stream = create_stream(/*blocking=*/(flags & cudaStreamNonBlocking) == 0);
    return cudaSuccess;
  });
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) { return cudaStreamCreateWithFlags(stream, cudaStreamDefault); }

cudaError_t cudaStreamDestroy(cudaStream_t handle) {
  return api_call([&] {
    Stream* stream = find_stream(handle);
    if (!stream || stream->legacy) return cudaErrorInvalidResourceHandle;
    abandon_capture(*stream);
    destroy_stream(handle);
    return cudaSuccess;
  });
}

cudaError_t cudaStreamSynchronize(cudaStream_t handle) {
  return api_call([&] {
    Stream* stream = find_stream(handle);
    if (!stream) return cudaErrorInvalidResourceHandle;
    if (const cudaError_t status = check_stream_synchronization(*stream); status != cudaSuccess) return status;
    run_through(*stream);
    return cudaSuccess;
  });
}

cudaError_t cudaStreamQuery(cudaStream_t handle) {
  return api_call([&] {
    Stream* stream = find_stream(handle);
    if (!stream) return cudaErrorInvalidResourceHandle;
    if (const cudaError_t status = check_stream_synchronization(*stream); status != cudaSuccess) return status;
    if (is_done(*stream)) return cudaSuccess;
    make_progress(*stream);
    return cudaErrorNotReady;
  });
}

cudaError_t cudaStreamBeginCapture(cudaStream_t handle, cudaStreamCaptureMode mode) {
  return api_call([&] {
    Stream* stream = find_stream(handle);
    return stream ? begin_capture(*stream, mode) : cudaErrorInvalidResourceHandle;
  });
}

cudaError_t cudaStreamEndCapture(cudaStream_t handle, cudaGraph_t* graph) {
  return api_call([&] {
    Stream* stream = find_stream(handle);
    return stream ? end_capture(*stream, graph) : cudaErrorInvalidResourceHandle;
  });
}

cudaError_t cudaStreamIsCapturing(cudaStream_t handle, cudaStreamCaptureStatus* status) {
  return api_call([&] {
    if (!status) return cudaErrorInvalidValue;
    Stream* stream = find_stream(handle);
    if (!stream) return cudaErrorInvalidResourceHandle;
    if (stream->legacy && blocking_stream_capturing()) return cudaErrorStreamCaptureImplicit;
    *status = !stream->capture               ? cudaStreamCaptureStatusNone
              : stream->capture->invalidated ? cudaStreamCaptureStatusInvalidated
                                             : cudaStreamCaptureStatusActive;
    return cudaSuccess;
  });
}

cudaError_t cudaLaunchHostFunc(cudaStream_t stream, cudaHostFn_t function, void* user_data) {
  return api_call([&] {
    if (!function) return cudaErrorInvalidValue;
    Operation operation;
    operation.what = "host function queued by cudaLaunchHostFunc";
    operation.host_function = true;
    operation.work = [function, user_data] { function(user_data); };
    return submit(stream, std::move(operation));
  });
}

// ---- events ----

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  return api_call([&] {
    constexpr unsigned kKnown = cudaEventBlockingSync | cudaEventDisableTiming | cudaEventInterprocess;
    if (!event || (flags & ~kKnown) != 0) return cudaErrorInvalidValue;
    *event = create_event(/*timing=*/(flags & cudaEventDisableTiming) == 0);
    return cudaSuccess;
  });
}

cudaError_t cudaEventCreate(cudaEvent_t* event) { return cudaEventCreateWithFlags(event, cudaEventDefault); }

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  return api_call([&] { return destroy_event(event) ? cudaSuccess : cudaErrorInvalidResourceHandle; });
}

cudaError_t cudaEventRecord(cudaEvent_t handle, cudaStream_t stream_handle) {
  return api_call([&] {
    const std::shared_ptr<Event> event = find_event(handle);
    Stream* stream = find_stream(stream_handle);
    if (!event || !stream) return cudaErrorInvalidResourceHandle;
    if (stream->legacy) {
      if (const cudaError_t status = check_legacy_stream_use(); status != cudaSuccess) return status;
    }
    if (Capture* capture = stream->capture) {
      if (capture->invalidated) return cudaErrorStreamCaptureInvalidated;
      // A record inside a capture marks a point of the graph, not of any queue: the event has nothing pending.
      ++event->generation;
      event->capture_id = capture->id;
      event->complete = true;
      event->recorded = false;
      return cudaSuccess;
    }
    record_event(event, *stream);
    return cudaSuccess;
  });
}

// Answers "not ready" while the work before the record is queued, and lets the device make some progress, so that
// a loop polling the event finishes.
cudaError_t cudaEventQuery(cudaEvent_t handle) {
  return api_call([&] {
    const std::shared_ptr<Event> event = find_event(handle);
    if (!event) return cudaErrorInvalidResourceHandle;
    if (const cudaError_t status = check_event_synchronization(*event); status != cudaSuccess) return status;
    if (event->complete) return cudaSuccess;
    make_progress(*event->stream, event->sequence);
    return cudaErrorNotReady;
  });
}

cudaError_t cudaEventSynchronize(cudaEvent_t handle) {
  return api_call([&] {
    const std::shared_ptr<Event> event = find_event(handle);
    if (!event) return cudaErrorInvalidResourceHandle;
    if (const cudaError_t status = check_event_synchronization(*event); status != cudaSuccess) return status;
    if (!event->complete) run_through(*event->stream, event->sequence);
    return cudaSuccess;
  });
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start_handle, cudaEvent_t end_handle) {
  return api_call([&] {
    if (!ms) return cudaErrorInvalidValue;
    const std::shared_ptr<Event> start = find_event(start_handle), end = find_event(end_handle);
    if (!start || !end) return cudaErrorInvalidResourceHandle;
    for (const Event* event : {start.get(), end.get()}) {
      if (const cudaError_t status = check_event_synchronization(*event); status != cudaSuccess) return status;
    }
    if (!start->timing || !end->timing) return cudaErrorInvalidResourceHandle;
    if (!start->complete || !end->complete) return cudaErrorNotReady;
    if (!start->recorded || !end->recorded) return cudaErrorInvalidResourceHandle;
    *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
    if (end->sequence > start->sequence) *ms = std::max(*ms, kEventResolutionMs);
    return cudaSuccess;
  });
}

// ---- graphs ----

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long /*flags*/) {
  return api_call([&] { return instantiate_graph(exec, graph); });
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  return api_call([&] {
    const std::vector<Operation>* operations = graph_exec_operations(exec);
    if (!operations) return cudaErrorInvalidValue;
    if (!find_stream(stream)) return cudaErrorInvalidResourceHandle;
    for (const Operation& recorded : *operations) {
      Operation replay = recorded;
      replay.what += " (replayed by cudaGraphLaunch)";
      if (const cudaError_t status = submit(stream, std::move(replay)); status != cudaSuccess) return status;
    }
    return cudaSuccess;
  });
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  return api_call([&] { return destroy_graph_exec(exec) ? cudaSuccess : cudaErrorInvalidValue; });
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  return api_call([&] { return destroy_graph(graph) ? cudaSuccess : cudaErrorInvalidValue; });
}

}  // extern "C"

}  // namespace loom::sim
