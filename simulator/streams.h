// Streams, events and the executor of the simulated device. Streams defer: queued work runs only when something
// synchronizes with it, and then on the calling thread, in an order every stream's order (and the legacy stream's
// implicit synchronization with blocking streams) allows; so a host read of results before a synchronization sees
// stale values, as it may on a GPU, instead of passing by luck.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <cuda_runtime_api.h>

namespace loom::sim {

struct Capture;

// One operation of the device: a kernel, a copy, a library call, an event's record, a host function.
struct Operation {
  std::string what;
  std::function<void()> work;
  bool host_function = false;  // may block, so a query never runs it on its own thread
  bool touches_memory = true;  // an event's record does not, and runs without opening device memory
  uint64_t sequence = 0;       // when it was queued, across all streams
};

struct Stream {
  bool legacy = false;     // the default stream 0
  bool blocking = true;    // synchronizes with the legacy stream (created without cudaStreamNonBlocking)
  bool destroyed = false;  // its handle is gone; it is deleted once its work has run, as CUDA does
  std::deque<Operation> queue;
  Capture* capture = nullptr;  // the capture sequence recording this stream's work, if any
};

struct Event {
  bool timing = true;
  bool complete = true;      // nothing recorded, or the last record has run
  bool recorded = false;     // a record has run since creation (what cudaEventElapsedTime needs)
  Stream* stream = nullptr;  // where the pending record waits (valid while !complete)
  uint64_t sequence = 0;     // the pending record's operation
  uint64_t generation = 0;   // which record is the latest
  uint64_t capture_id = 0;   // nonzero: last recorded in that capture sequence
  std::chrono::steady_clock::time_point time;
};

// ---- handles ----
// nullptr and cudaStreamLegacy name the legacy stream; nullptr return: not a live stream (cudaStreamPerThread included:
// the per-thread default stream is not simulated).
Stream* find_stream(cudaStream_t handle);
Stream& legacy_stream();
cudaStream_t create_stream(bool blocking);
bool destroy_stream(cudaStream_t handle);  // false: not a live stream (the legacy one cannot be destroyed)

cudaEvent_t create_event(bool timing);
std::shared_ptr<Event> find_event(cudaEvent_t handle);  // nullptr: not a live event
bool destroy_event(cudaEvent_t handle);

// ---- the executor ----
// Appends `operation` to the stream's queue and returns its sequence number.
uint64_t queue_operation(Stream& stream, Operation operation);

// Records `event` at the current end of `stream` (not capturing).
void record_event(const std::shared_ptr<Event>& event, Stream& stream);

// Runs queued work until the stream's operations up to `sequence` (all of them by default) have run; stops early
// when an operation faults (the sticky error).
void run_through(Stream& stream, uint64_t sequence = UINT64_MAX);
void run_everything();

// Whether the stream's operations up to `sequence` have all run.
bool is_done(Stream& stream, uint64_t sequence = UINT64_MAX);

// Lets the device make some progress toward that point without blocking (what a query does, so a polling loop
// finishes): runs the oldest operation it waits for, or starts a host function on a thread of its own, as a GPU's
// driver does.
void make_progress(Stream& stream, uint64_t sequence = UINT64_MAX);

// The sequence number of the stream's last queued operation (0 when empty).
uint64_t last_sequence(const Stream& stream);

}  // namespace loom::sim
