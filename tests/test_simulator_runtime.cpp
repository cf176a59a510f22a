// The simulated CUDA runtime against the behaviour CUDA documents: deferred streams, events, pageable-memory rules,
// capture rules and their errors, graph replay, the last-error slot and sticky errors, and the reports of host code
// reading device memory and of device work reading past a block. Built only in the simulator flavour: it calls the
// runtime directly, and the simulator's inner seam.
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "engine/runtime/device.h"
#include "simulator/device.h"

namespace loom::test {
namespace {

// Fails the test at once, naming the call, when a call that must succeed does not.
#define SIM_OK(call) ASSERT_EQ((call), cudaSuccess) << #call

class SimulatorRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(cudaGetLastError(), cudaSuccess) << "an earlier test left an error in the last-error slot";
    SIM_OK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  void TearDown() override {
    for (void* block : blocks_) EXPECT_EQ(cudaFree(block), cudaSuccess);
    for (void* buffer : pinned_) EXPECT_EQ(cudaFreeHost(buffer), cudaSuccess);
    EXPECT_EQ(cudaStreamDestroy(stream_), cudaSuccess);
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "the test left an error in the last-error slot";
  }
  // Device memory and pinned memory the test frees at its end (cudaFree synchronizes first).
  float* device_floats(size_t count) {
    void* pointer = nullptr;
    EXPECT_EQ(cudaMalloc(&pointer, count * sizeof(float)), cudaSuccess);
    blocks_.push_back(pointer);
    return static_cast<float*>(pointer);
  }
  float* pinned_floats(size_t count) {
    void* pointer = nullptr;
    EXPECT_EQ(cudaMallocHost(&pointer, count * sizeof(float)), cudaSuccess);
    pinned_.push_back(pointer);
    return static_cast<float*>(pointer);
  }
  // Queues `work` as one device operation, as a kernel launch does.
  void queue(std::function<void()> work, cudaStream_t stream) {
    ASSERT_EQ(sim::enqueue(stream, "test operation", std::move(work)), cudaSuccess);
  }

  cudaStream_t stream_ = nullptr;
  std::vector<void*> blocks_, pinned_;
};

TEST_F(SimulatorRuntime, ReportsOneH100LikeDeviceUnderItsOwnName) {
  int count = 0;
  SIM_OK(cudaGetDeviceCount(&count));
  EXPECT_EQ(count, 1);
  cudaDeviceProp prop{};
  SIM_OK(cudaGetDeviceProperties(&prop, 0));
  EXPECT_STREQ(prop.name, sim::kDeviceName);
  // The engine knows the simulator by that name: its probe says the device is simulated, so no benchmark times it.
  EXPECT_STREQ(prop.name, kCudaSimulatorName);
  EXPECT_TRUE(probe_cuda().usable);
  EXPECT_TRUE(probe_cuda().simulated);
  EXPECT_EQ(prop.major, 9);
  EXPECT_EQ(prop.minor, 0);
  EXPECT_EQ(prop.multiProcessorCount, 132);
  EXPECT_EQ(prop.maxThreadsPerBlock, 1024);
  EXPECT_EQ(prop.sharedMemPerBlock, size_t(48) << 10);
  EXPECT_EQ(prop.warpSize, 32);
  EXPECT_EQ(prop.totalGlobalMem, size_t(80) << 30);
  EXPECT_EQ(cudaGetDeviceProperties(&prop, 1), cudaErrorInvalidDevice);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidDevice);
  int driver = 0, runtime = 0;
  SIM_OK(cudaDriverGetVersion(&driver));
  SIM_OK(cudaRuntimeGetVersion(&runtime));
  EXPECT_EQ(driver, CUDART_VERSION);
  EXPECT_EQ(runtime, CUDART_VERSION);
  int device = -1;
  SIM_OK(cudaGetDevice(&device));
  EXPECT_EQ(device, 0);
  SIM_OK(cudaSetDevice(0));
}

// The per-thread default stream is not simulated (loom never uses it): refused, not mistaken for the legacy stream.
TEST_F(SimulatorRuntime, RefusesThePerThreadDefaultStream) {
  EXPECT_EQ(cudaStreamSynchronize(cudaStreamPerThread), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaStreamSynchronize(nullptr), cudaSuccess);
}

TEST_F(SimulatorRuntime, MallocGivesAlignedNaNFilledBlocksAndCountsThem) {
  size_t free_before = 0, total = 0;
  SIM_OK(cudaMemGetInfo(&free_before, &total));
  EXPECT_EQ(total, size_t(80) << 30);
  void* block = nullptr;
  SIM_OK(cudaMalloc(&block, 1000));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % 256, 0u);
  size_t free_after = 0;
  SIM_OK(cudaMemGetInfo(&free_after, &total));
  EXPECT_EQ(free_before - free_after, 1024u) << "1000 bytes in whole 256-byte units";
  std::vector<float> host(250, 0.f);
  SIM_OK(cudaMemcpy(host.data(), block, 1000, cudaMemcpyDeviceToHost));
  for (float value : host) ASSERT_TRUE(std::isnan(value)) << "memory never written reads as NaN";
  EXPECT_EQ(cudaFree(static_cast<char*>(block) + 4), cudaErrorInvalidValue) << "not the start of a block";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  SIM_OK(cudaFree(block));
  EXPECT_EQ(cudaFree(block), cudaErrorInvalidValue) << "freed twice";
  int on_the_stack = 0;
  EXPECT_EQ(cudaFree(&on_the_stack), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  SIM_OK(cudaMemGetInfo(&free_after, &total));
  EXPECT_EQ(free_after, free_before);
  SIM_OK(cudaFree(nullptr));
  void* too_much = nullptr;
  EXPECT_EQ(cudaMalloc(&too_much, size_t(81) << 30), cudaErrorMemoryAllocation);
  EXPECT_EQ(cudaGetLastError(), cudaErrorMemoryAllocation);
}

// Nothing queued runs before something synchronizes with it: a result read early is visibly stale, and a pinned
// buffer reused before the copy from it ran gives the copy the new contents.
TEST_F(SimulatorRuntime, StreamsDeferWorkUntilSynchronized) {
  float* device = device_floats(1);
  float* source = pinned_floats(1);
  float* result = pinned_floats(1);
  *source = 7.f;
  *result = -1.f;
  SIM_OK(cudaMemcpyAsync(device, source, sizeof(float), cudaMemcpyHostToDevice, stream_));
  SIM_OK(cudaMemcpyAsync(result, device, sizeof(float), cudaMemcpyDeviceToHost, stream_));
  EXPECT_EQ(*result, -1.f) << "the copies ran before anything synchronized with the stream";
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(*result, 7.f);

  SIM_OK(cudaMemcpyAsync(device, source, sizeof(float), cudaMemcpyHostToDevice, stream_));
  *source = 8.f;  // reused too early: the copy has not read it yet
  SIM_OK(cudaMemcpyAsync(result, device, sizeof(float), cudaMemcpyDeviceToHost, stream_));
  SIM_OK(cudaDeviceSynchronize());
  EXPECT_EQ(*result, 8.f);
}

TEST_F(SimulatorRuntime, QueuedWorkSeesDeviceMemory) {
  float* device = device_floats(4);
  queue([device] { device[3] = 5.f; }, stream_);
  float host = 0.f;
  SIM_OK(cudaMemcpyAsync(&host, device + 3, sizeof(float), cudaMemcpyDeviceToHost, stream_));
  EXPECT_EQ(host, 5.f) << "a copy to pageable memory has completed when cudaMemcpyAsync returns";
}

TEST_F(SimulatorRuntime, PageableCopiesFollowCudasRules) {
  float* device = device_floats(1);
  std::vector<float> source{3.f};
  SIM_OK(cudaMemcpyAsync(device, source.data(), sizeof(float), cudaMemcpyHostToDevice, stream_));
  source[0] = 4.f;  // allowed: a pageable source is staged when the copy is queued
  float result = -1.f;
  SIM_OK(cudaMemcpyAsync(&result, device, sizeof(float), cudaMemcpyDefault, stream_));
  EXPECT_EQ(result, 3.f);
}

TEST_F(SimulatorRuntime, MemsetAndMemcpyInEveryDirection) {
  float* a = device_floats(8);
  float* b = device_floats(8);
  float* pinned = pinned_floats(8);
  SIM_OK(cudaMemsetAsync(a, 0, 8 * sizeof(float), stream_));
  SIM_OK(cudaMemcpyAsync(b, a, 8 * sizeof(float), cudaMemcpyDeviceToDevice, stream_));
  SIM_OK(cudaMemcpyAsync(pinned, b, 8 * sizeof(float), cudaMemcpyDefault, stream_));
  SIM_OK(cudaStreamSynchronize(stream_));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(pinned[i], 0.f);
  std::vector<float> host(8, 2.5f);
  SIM_OK(cudaMemcpy(a, host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice));
  SIM_OK(cudaMemset(b, 0xFF, 8 * sizeof(float)));
  SIM_OK(cudaMemcpy(pinned, a, 8 * sizeof(float), cudaMemcpyDefault));
  EXPECT_EQ(pinned[7], 2.5f);
  SIM_OK(cudaMemcpy(host.data(), pinned, 8 * sizeof(float), cudaMemcpyHostToHost));
  SIM_OK(cudaMemcpy(host.data(), b, 8 * sizeof(float), cudaMemcpyDeviceToHost));
  EXPECT_TRUE(std::isnan(host[0]));

  EXPECT_EQ(cudaMemcpy(host.data(), a, 8 * sizeof(float), cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "the pointers contradict the direction";
  EXPECT_EQ(cudaMemcpy(b, a, 9 * sizeof(float), cudaMemcpyDeviceToDevice), cudaErrorInvalidValue)
      << "past the end of the block";
  EXPECT_EQ(cudaMemcpy(b, a, 4, static_cast<cudaMemcpyKind>(7)), cudaErrorInvalidMemcpyDirection);
  EXPECT_EQ(cudaMemsetAsync(host.data(), 0, 4, stream_), cudaErrorInvalidValue) << "pageable memory";
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

TEST_F(SimulatorRuntime, EventIsNotReadyUntilTheWorkBeforeItRuns) {
  float* device = device_floats(1);
  float* result = pinned_floats(1);
  *result = -1.f;
  cudaEvent_t event = nullptr;
  SIM_OK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  EXPECT_EQ(cudaEventQuery(event), cudaSuccess) << "never recorded";
  SIM_OK(cudaMemsetAsync(device, 0, sizeof(float), stream_));
  SIM_OK(cudaMemcpyAsync(result, device, sizeof(float), cudaMemcpyDeviceToHost, stream_));
  SIM_OK(cudaEventRecord(event, stream_));
  EXPECT_EQ(cudaEventQuery(event), cudaErrorNotReady);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorNotReady) << "CUDA records 'not ready' as the last error";
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady);
  int polls = 1;
  while (cudaEventQuery(event) == cudaErrorNotReady) ++polls;  // each query lets the device progress
  EXPECT_GT(polls, 1);
  EXPECT_LE(polls, 4);
  EXPECT_EQ(*result, 0.f);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady);
  SIM_OK(cudaEventSynchronize(event));
  SIM_OK(cudaStreamQuery(stream_));
  SIM_OK(cudaEventDestroy(event));
  EXPECT_EQ(cudaEventQuery(event), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
}

TEST_F(SimulatorRuntime, ElapsedTimeBetweenCompletedTimedEvents) {
  cudaEvent_t start = nullptr, stop = nullptr, untimed = nullptr, unrecorded = nullptr;
  SIM_OK(cudaEventCreate(&start));
  SIM_OK(cudaEventCreate(&stop));
  SIM_OK(cudaEventCreate(&unrecorded));
  SIM_OK(cudaEventCreateWithFlags(&untimed, cudaEventDisableTiming));
  SIM_OK(cudaEventRecord(start, stream_));
  queue([] {}, stream_);
  SIM_OK(cudaEventRecord(stop, stream_));
  SIM_OK(cudaEventRecord(untimed, stream_));
  float ms = -1.f;
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, stop), cudaErrorNotReady);
  SIM_OK(cudaEventSynchronize(stop));
  SIM_OK(cudaEventElapsedTime(&ms, start, stop));
  EXPECT_GT(ms, 0.f);
  EXPECT_LT(ms, 1000.f);
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, untimed), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaEventElapsedTime(&ms, start, unrecorded), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaEventElapsedTime(nullptr, start, stop), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  for (cudaEvent_t event : {start, stop, untimed, unrecorded}) SIM_OK(cudaEventDestroy(event));
}

TEST_F(SimulatorRuntime, HostFunctionsRunInStreamOrderAndMayNotCallCuda) {
  struct Seen {
    std::vector<int> order;
    cudaError_t inside = cudaSuccess;
  } seen;
  queue([&seen] { seen.order.push_back(1); }, stream_);
  SIM_OK(cudaLaunchHostFunc(
      stream_,
      [](void* data) {
        auto* state = static_cast<Seen*>(data);
        state->order.push_back(2);
        void* pointer = nullptr;
        state->inside = cudaMalloc(&pointer, 16);
      },
      &seen));
  queue([&seen] { seen.order.push_back(3); }, stream_);
  EXPECT_TRUE(seen.order.empty());
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(seen.order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(seen.inside, cudaErrorNotPermitted);
  EXPECT_EQ(cudaGetLastError(), cudaErrorNotPermitted) << "recorded on the thread that ran the host function: this one";
}

// A host function that waits for the host (as a test's gate does) must not hang a query: the query starts it on a
// thread of its own, as a GPU's driver runs host functions, and answers "not ready" meanwhile.
TEST_F(SimulatorRuntime, QueriesNeverBlockOnAWaitingHostFunction) {
  struct Gate {
    std::mutex mutex;
    std::condition_variable opened_signal;
    bool opened = false;
  } gate;
  SIM_OK(cudaLaunchHostFunc(
      stream_,
      [](void* data) {
        auto* state = static_cast<Gate*>(data);
        std::unique_lock<std::mutex> lock(state->mutex);
        state->opened_signal.wait(lock, [state] { return state->opened; });
      },
      &gate));
  cudaEvent_t event = nullptr;
  SIM_OK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  SIM_OK(cudaEventRecord(event, stream_));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(cudaEventQuery(event), cudaErrorNotReady);
  EXPECT_EQ(cudaStreamQuery(stream_), cudaErrorNotReady);
  (void)cudaGetLastError();
  {
    std::lock_guard<std::mutex> lock(gate.mutex);
    gate.opened = true;
  }
  gate.opened_signal.notify_all();
  SIM_OK(cudaEventSynchronize(event));
  SIM_OK(cudaEventDestroy(event));
}

TEST_F(SimulatorRuntime, LegacyStreamWaitsForBlockingStreamsOnly) {
  cudaStream_t blocking = nullptr;
  SIM_OK(cudaStreamCreate(&blocking));
  std::vector<char> order;
  queue([&order] { order.push_back('b'); }, blocking);
  queue([&order] { order.push_back('n'); }, stream_);
  queue([&order] { order.push_back('0'); }, nullptr);
  SIM_OK(cudaStreamSynchronize(nullptr));
  EXPECT_EQ(std::string(order.begin(), order.end()), "b0") << "the non-blocking stream's work is not waited for";
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(std::string(order.begin(), order.end()), "b0n");
  queue([&order] { order.push_back('x'); }, blocking);
  SIM_OK(cudaStreamDestroy(blocking));  // its queued work still runs
  SIM_OK(cudaDeviceSynchronize());
  EXPECT_EQ(order.back(), 'x');
}

TEST_F(SimulatorRuntime, CapturedWorkRunsAtEachReplayNotAtCapture) {
  int runs = 0;
  SIM_OK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  SIM_OK(cudaStreamIsCapturing(stream_, &status));
  EXPECT_EQ(status, cudaStreamCaptureStatusActive);
  queue([&runs] { ++runs; }, stream_);
  cudaGraph_t graph = nullptr;
  SIM_OK(cudaStreamEndCapture(stream_, &graph));
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(runs, 0) << "captured work is recorded, not run";
  cudaGraphExec_t exec = nullptr;
  SIM_OK(cudaGraphInstantiate(&exec, graph, 0));
  SIM_OK(cudaGraphDestroy(graph));  // the executable graph keeps its own copy
  SIM_OK(cudaGraphLaunch(exec, stream_));
  SIM_OK(cudaGraphLaunch(exec, stream_));
  EXPECT_EQ(runs, 0);
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(runs, 2);
  SIM_OK(cudaGraphExecDestroy(exec));
  EXPECT_EQ(cudaGraphLaunch(exec, stream_), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
}

// Each of CUDA's capture rules: the call fails with CUDA's error and invalidates the capture, whose end then fails.
TEST_F(SimulatorRuntime, CaptureRulesGiveCudasErrorsAndInvalidateTheCapture) {
  float* device = device_floats(4);
  float* pinned = pinned_floats(4);
  cudaEvent_t event = nullptr;
  SIM_OK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming));
  struct Rule {
    const char* name;
    cudaError_t expected;
    std::function<cudaError_t()> breach;
  };
  void* allocated = nullptr;
  std::vector<float> pageable(4);
  const std::vector<Rule> rules = {
      {"cudaMalloc", cudaErrorStreamCaptureUnsupported, [&] { return cudaMalloc(&allocated, 16); }},
      {"cudaMallocHost", cudaErrorStreamCaptureUnsupported, [&] { return cudaMallocHost(&allocated, 16); }},
      {"cudaFree", cudaErrorStreamCaptureUnsupported, [&] { return cudaFree(device); }},
      {"cudaStreamSynchronize", cudaErrorStreamCaptureUnsupported, [&] { return cudaStreamSynchronize(stream_); }},
      {"cudaStreamQuery", cudaErrorStreamCaptureUnsupported, [&] { return cudaStreamQuery(stream_); }},
      {"cudaDeviceSynchronize", cudaErrorStreamCaptureUnsupported, [&] { return cudaDeviceSynchronize(); }},
      {"cudaMemcpy", cudaErrorStreamCaptureUnsupported,
       [&] { return cudaMemcpy(pinned, device, 16, cudaMemcpyDeviceToHost); }},
      {"cudaMemset", cudaErrorStreamCaptureUnsupported, [&] { return cudaMemset(device, 0, 16); }},
      {"cudaMemcpyAsync to pageable memory", cudaErrorStreamCaptureUnsupported,
       [&] { return cudaMemcpyAsync(pageable.data(), device, 16, cudaMemcpyDeviceToHost, stream_); }},
      {"cudaEventQuery of a captured event", cudaErrorCapturedEvent,
       [&] {
         EXPECT_EQ(cudaEventRecord(event, stream_), cudaSuccess);
         return cudaEventQuery(event);
       }},
      {"cudaEventSynchronize of a captured event", cudaErrorCapturedEvent,
       [&] {
         EXPECT_EQ(cudaEventRecord(event, stream_), cudaSuccess);
         return cudaEventSynchronize(event);
       }},
  };
  for (const Rule& rule : rules) {
    SCOPED_TRACE(rule.name);
    SIM_OK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
    EXPECT_EQ(rule.breach(), rule.expected);
    EXPECT_EQ(cudaGetLastError(), rule.expected);
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    SIM_OK(cudaStreamIsCapturing(stream_, &status));
    EXPECT_EQ(status, cudaStreamCaptureStatusInvalidated);
    EXPECT_EQ(cudaMemsetAsync(device, 0, 16, stream_), cudaErrorStreamCaptureInvalidated);
    cudaGraph_t graph = reinterpret_cast<cudaGraph_t>(&status);
    EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaErrorStreamCaptureInvalidated);
    EXPECT_EQ(graph, nullptr);
    SIM_OK(cudaStreamIsCapturing(stream_, &status));
    EXPECT_EQ(status, cudaStreamCaptureStatusNone);
    (void)cudaGetLastError();
  }
  SIM_OK(cudaEventDestroy(event));
}

TEST_F(SimulatorRuntime, LegacyStreamWorkDuringABlockingStreamsCaptureIsImplicit) {
  cudaStream_t blocking = nullptr;
  SIM_OK(cudaStreamCreate(&blocking));
  float* device = device_floats(1);
  SIM_OK(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeRelaxed));
  EXPECT_EQ(cudaMemsetAsync(device, 0, 4, nullptr), cudaErrorStreamCaptureImplicit);
  EXPECT_EQ(cudaGetLastError(), cudaErrorStreamCaptureImplicit);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(blocking, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(cudaGetLastError(), cudaErrorStreamCaptureInvalidated);
  SIM_OK(cudaStreamDestroy(blocking));
  // A non-blocking stream's capture leaves the legacy stream free.
  SIM_OK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed));
  SIM_OK(cudaMemsetAsync(device, 0, 4, nullptr));
  void* allocated = nullptr;
  SIM_OK(cudaMalloc(&allocated, 16)) << "relaxed mode allows potentially unsafe calls";
  SIM_OK(cudaStreamEndCapture(stream_, &graph));
  SIM_OK(cudaGraphDestroy(graph));
  SIM_OK(cudaFree(allocated));
}

TEST_F(SimulatorRuntime, GlobalCaptureProhibitsUnsafeCallsFromOtherThreads) {
  for (cudaStreamCaptureMode mode : {cudaStreamCaptureModeGlobal, cudaStreamCaptureModeThreadLocal}) {
    SIM_OK(cudaStreamBeginCapture(stream_, mode));
    cudaError_t elsewhere = cudaErrorUnknown;
    void* allocated = nullptr;
    std::thread([&] { elsewhere = cudaMalloc(&allocated, 16); }).join();
    cudaGraph_t graph = nullptr;
    if (mode == cudaStreamCaptureModeGlobal) {
      EXPECT_EQ(elsewhere, cudaErrorStreamCaptureUnsupported);
      EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaErrorStreamCaptureInvalidated);
      (void)cudaGetLastError();
    } else {
      EXPECT_EQ(elsewhere, cudaSuccess) << "a thread-local capture ignores other threads";
      SIM_OK(cudaStreamEndCapture(stream_, &graph));
      SIM_OK(cudaGraphDestroy(graph));
      SIM_OK(cudaFree(allocated));
    }
  }
}

TEST_F(SimulatorRuntime, LastErrorIsPerThreadAndClearedOnlyByGetLastError) {
  EXPECT_EQ(cudaStreamSynchronize(reinterpret_cast<cudaStream_t>(&stream_)), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidResourceHandle) << "peeking does not clear";
  SIM_OK(cudaStreamSynchronize(stream_));
  EXPECT_EQ(cudaPeekAtLastError(), cudaErrorInvalidResourceHandle) << "a success does not clear";
  cudaError_t other_thread = cudaErrorUnknown;
  std::thread([&] { other_thread = cudaPeekAtLastError(); }).join();
  EXPECT_EQ(other_thread, cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_STREQ(cudaGetErrorName(cudaErrorNotReady), "cudaErrorNotReady");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorNotReady), "device not ready");
  EXPECT_STREQ(cudaGetErrorString(cudaErrorStreamCaptureUnsupported),
               "operation not permitted when stream is capturing");
  EXPECT_STREQ(cudaGetErrorString(static_cast<cudaError_t>(123456)), "unrecognized error code");
}

// A device fault poisons the context for good, as on a GPU. In a child process: the error would stay for the rest of
// this one.
TEST_F(SimulatorRuntime, DeviceFaultIsStickyAndStopsQueuedWork) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* device = device_floats(1);
  EXPECT_EXIT(
      {
        bool later_ran = false;
        sim::enqueue(stream_, "faulting kernel",
                     [] { sim::device_fault(cudaErrorIllegalAddress, "an illegal address in a test"); });
        sim::enqueue(stream_, "later kernel", [&later_ran] { later_ran = true; });
        const bool ok = cudaStreamSynchronize(stream_) == cudaErrorIllegalAddress && !later_ran &&
                        cudaMemsetAsync(device, 0, 4, stream_) == cudaErrorIllegalAddress &&
                        cudaGetLastError() == cudaErrorIllegalAddress &&
                        cudaGetLastError() == cudaErrorIllegalAddress &&
                        cudaPeekAtLastError() == cudaErrorIllegalAddress;
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "loom CUDA simulator: an illegal address in a test");
}

TEST_F(SimulatorRuntime, HostCodeReadingDeviceMemoryDiesWithAClearReport) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* device = device_floats(16);
  EXPECT_DEATH(
      {
        volatile float value = device[3];
        (void)value;
      },
      "loom CUDA simulator: host code read device memory at 0x[0-9a-f]+ \\(byte 12 of a 64-byte cudaMalloc "
      "block\\): copy it to the host with cudaMemcpy first");
  EXPECT_DEATH(device[0] = 1.f, "host code wrote device memory");
}

TEST_F(SimulatorRuntime, DeviceWorkReadingPastABlockDiesNamingTheOperation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* device = device_floats(1024);
  EXPECT_DEATH(
      {
        sim::enqueue(stream_, "kernel overreach launched at a test", [device] {
          volatile float value = device[1024];
          (void)value;
        });
        cudaStreamSynchronize(stream_);
      },
      "loom CUDA simulator: device work read device memory at 0x[0-9a-f]+ \\(0 bytes past the end of a 4096-byte "
      "cudaMalloc block\\), in kernel overreach launched at a test");
}

#if defined(__SANITIZE_ADDRESS__)
// The 256-byte alignment can leave up to 255 bytes between a block's end and its guard page: AddressSanitizer
// watches those.
TEST_F(SimulatorRuntime, DeviceWorkReadingIntoTheAlignmentSlackDiesUnderAddressSanitizer) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  float* device = device_floats(25);  // 100 bytes, in a 256-byte slot before the guard page
  EXPECT_DEATH(
      {
        sim::enqueue(stream_, "kernel overreach", [device] {
          volatile float value = device[25];
          (void)value;
        });
        cudaStreamSynchronize(stream_);
      },
      "AddressSanitizer: use-after-poison");
}
#endif

TEST_F(SimulatorRuntime, ReplayingAGraphAfterItsMemoryWasFreedDiesNamingTheBlock) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* block = nullptr;
        cudaMalloc(&block, 64);
        cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
        cudaMemsetAsync(block, 0, 64, stream_);
        cudaGraph_t graph = nullptr;
        cudaStreamEndCapture(stream_, &graph);
        cudaGraphExec_t exec = nullptr;
        cudaGraphInstantiate(&exec, graph, 0);
        cudaFree(block);
        cudaGraphLaunch(exec, stream_);
        cudaStreamSynchronize(stream_);
      },
      "device work wrote device memory at 0x[0-9a-f]+ in a 64-byte cudaMalloc block already freed by cudaFree, in "
      "cudaMemsetAsync");
}

}  // namespace
}  // namespace loom::test
