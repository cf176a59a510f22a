#include "simulator/streams.h"

#include <atomic>
#include <thread>
#include <unordered_map>
#include <vector>

#include "simulator/device_memory.h"
#include "simulator/runtime_guard.h"

namespace loom::sim {
namespace {

// A host function that a query started on a thread of its own; it stays at the head of its stream until it returns.
struct HostCall {
  Stream* stream = nullptr;
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> finished;
};

struct Device {
  std::vector<std::unique_ptr<Stream>> streams;  // the legacy stream first; destroyed ones until they drain
  std::unordered_map<Event*, std::shared_ptr<Event>> events;
  uint64_t next_sequence = 1;
  HostCall host_call;
};

Device& device() {
  // Never destroyed: a host function may still be running on its thread when the process exits.
  static Device* state = [] {
    auto* created = new Device();
    auto legacy = std::make_unique<Stream>();
    legacy->legacy = true;
    created->streams.push_back(std::move(legacy));
    return created;
  }();
  return *state;
}

uint64_t head_sequence(const Stream& stream) { return stream.queue.front().sequence; }

// The stream whose head must run next for `stream`'s operations up to `limit` to finish, or nullptr when they have.
// The legacy stream's operations wait for everything queued before them on blocking streams, and a blocking stream's
// operations for everything queued before them on the legacy stream.
Stream* next_needed(Stream& stream, uint64_t limit) {
  if (stream.queue.empty() || head_sequence(stream) > limit) return nullptr;
  if (stream.legacy || stream.blocking) {
    Stream* oldest = nullptr;
    for (const auto& other : device().streams) {
      const bool across_the_barrier = other->legacy != stream.legacy && (other->legacy || other->blocking);
      if (across_the_barrier && !other->queue.empty() && head_sequence(*other) < head_sequence(stream) &&
          (!oldest || head_sequence(*other) < head_sequence(*oldest)))
        oldest = other.get();
    }
    if (oldest) return next_needed(*oldest, head_sequence(stream) - 1);
  }
  return &stream;
}

void finish_host_call() {
  HostCall& call = device().host_call;
  call.thread.join();
  call.stream->queue.pop_front();
  call.stream = nullptr;
}

// After a fault the context is lost, as on a GPU: nothing queued runs any more.
void discard_queued_work() {
  for (const auto& stream : device().streams) {
    const bool in_flight = device().host_call.stream == stream.get();
    while (stream->queue.size() > (in_flight ? 1u : 0u)) stream->queue.pop_back();
  }
}

// Runs the head of `stream`. A host function runs on this thread when `may_block`, else on a thread of its own (one at
// a time); returns false, when `may_block` is false, if the head is such a thread's host function still running or a
// host function that must wait for another stream's to finish.
bool run_head(Stream& stream, bool may_block) {
  HostCall& call = device().host_call;
  if (call.stream == &stream) {
    if (!may_block && !call.finished->load()) return false;
    finish_host_call();
    return true;
  }
  if (stream.queue.front().host_function) {
    set_device_memory_accessible(false);          // host code, even inside a host function, cannot read device memory
    if (!may_block && call.stream) return false;  // one host function at a time runs on a thread of its own
    if (!may_block) {
      call.stream = &stream;
      call.finished = std::make_shared<std::atomic<bool>>(false);
      call.thread = std::thread([work = stream.queue.front().work, finished = call.finished] {
        HostFunctionScope scope;
        work();
        finished->store(true);
      });
      return true;
    }
    Operation operation = std::move(stream.queue.front());
    stream.queue.pop_front();
    HostFunctionScope scope;
    operation.work();
    return true;
  }
  Operation operation = std::move(stream.queue.front());
  stream.queue.pop_front();
  if (operation.touches_memory) set_device_memory_accessible(true);
  ensure_fault_stack();
  set_running_operation(&operation.what);
  operation.work();
  set_running_operation(nullptr);
  if (operation.touches_memory) check_block_ends(operation.what);
  if (sticky_error() != cudaSuccess) discard_queued_work();
  return true;
}

// Closes device memory again and deletes destroyed streams whose work has all run.
void end_of_work() {
  set_device_memory_accessible(false);
  auto& streams = device().streams;
  for (size_t i = 1; i < streams.size();) {
    Stream* stream = streams[i].get();
    if (stream->destroyed && stream->queue.empty() && device().host_call.stream != stream)
      streams.erase(streams.begin() + static_cast<std::ptrdiff_t>(i));
    else
      ++i;
  }
}

}  // namespace

Stream& legacy_stream() { return *device().streams.front(); }

Stream* find_stream(cudaStream_t handle) {
  // The per-thread default stream (a blocking stream of each host thread) is not simulated: loom never uses it, and
  // treating it as the legacy stream would synchronize more than CUDA does. It is refused as an invalid handle.
  if (handle == cudaStreamPerThread) return nullptr;
  if (handle == nullptr || handle == cudaStreamLegacy) return &legacy_stream();
  for (const auto& stream : device().streams)
    if (reinterpret_cast<cudaStream_t>(stream.get()) == handle && !stream->destroyed) return stream.get();
  return nullptr;
}

cudaStream_t create_stream(bool blocking) {
  auto stream = std::make_unique<Stream>();
  stream->blocking = blocking;
  device().streams.push_back(std::move(stream));
  return reinterpret_cast<cudaStream_t>(device().streams.back().get());
}

bool destroy_stream(cudaStream_t handle) {
  Stream* stream = find_stream(handle);
  if (!stream || stream->legacy) return false;
  stream->destroyed = true;
  end_of_work();
  return true;
}

cudaEvent_t create_event(bool timing) {
  auto event = std::make_shared<Event>();
  event->timing = timing;
  Event* key = event.get();
  device().events.emplace(key, std::move(event));
  return reinterpret_cast<cudaEvent_t>(key);
}

std::shared_ptr<Event> find_event(cudaEvent_t handle) {
  const auto found = device().events.find(reinterpret_cast<Event*>(handle));
  return found == device().events.end() ? nullptr : found->second;
}

bool destroy_event(cudaEvent_t handle) {
  // A record still queued keeps the event alive until it has run (it holds a reference), as CUDA allows.
  return device().events.erase(reinterpret_cast<Event*>(handle)) == 1;
}

uint64_t queue_operation(Stream& stream, Operation operation) {
  operation.sequence = device().next_sequence++;
  stream.queue.push_back(std::move(operation));
  return stream.queue.back().sequence;
}

void record_event(const std::shared_ptr<Event>& event, Stream& stream) {
  const uint64_t generation = ++event->generation;
  event->capture_id = 0;
  event->complete = false;
  event->stream = &stream;
  Operation record;
  record.what = "cudaEventRecord";
  record.touches_memory = false;
  record.work = [event, generation] {
    if (event->generation != generation) return;  // recorded again since: the newer record is the event's state
    event->time = std::chrono::steady_clock::now();
    event->complete = true;
    event->recorded = true;
  };
  event->sequence = queue_operation(stream, std::move(record));
}

void run_through(Stream& stream, uint64_t sequence) {
  while (Stream* next = next_needed(stream, sequence)) {
    run_head(*next, /*may_block=*/true);
    if (sticky_error() != cudaSuccess) break;
  }
  end_of_work();
}

void run_everything() {
  for (;;) {
    Stream* oldest = nullptr;
    for (const auto& stream : device().streams)
      if (!stream->queue.empty() && (!oldest || head_sequence(*stream) < head_sequence(*oldest))) oldest = stream.get();
    if (!oldest || sticky_error() != cudaSuccess) break;
    run_head(*next_needed(*oldest, head_sequence(*oldest)), /*may_block=*/true);
  }
  end_of_work();
}

bool is_done(Stream& stream, uint64_t sequence) { return next_needed(stream, sequence) == nullptr; }

void make_progress(Stream& stream, uint64_t sequence) {
  if (Stream* next = next_needed(stream, sequence)) run_head(*next, /*may_block=*/false);
  end_of_work();
}

uint64_t last_sequence(const Stream& stream) { return stream.queue.empty() ? 0 : stream.queue.back().sequence; }

}  // namespace loom::sim
