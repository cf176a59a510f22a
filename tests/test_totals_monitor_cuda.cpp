// The totals monitor against the CUDA runtime itself: what its "not ready" answer leaves in the runtime's last-error
// slot. Built only with the CUDA path (it calls the CUDA runtime directly); skips, saying why, without a GPU.
#include <condition_variable>
#include <mutex>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/training/totals_monitor.h"
#include "kernels/totals.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// Holds the context's stream at a host callback until opened, so a test can look at work that cannot have finished.
class StreamGate {
 public:
  StreamGate() { LOOM_CUDA_CHECK(cudaLaunchHostFunc(CudaContext::get().stream(), &StreamGate::wait, this)); }
  ~StreamGate() {
    open();
    CudaContext::get().synchronize();  // the callback has returned before this object's memory goes
  }
  void open() {
    std::lock_guard<std::mutex> lock(mutex_);
    opened_ = true;
    opened_signal_.notify_all();
  }

 private:
  static void CUDART_CB wait(void* self) {
    auto* gate = static_cast<StreamGate*>(self);
    std::unique_lock<std::mutex> lock(gate->mutex_);
    gate->opened_signal_.wait(lock, [gate] { return gate->opened_; });
  }
  std::mutex mutex_;
  std::condition_variable opened_signal_;
  bool opened_ = false;
};

// The progress bar asks the monitor on every step whether its snapshot has landed; the usual answer, "not ready",
// must not be left behind where the next launch check would take it for a failed kernel. The test observes the
// condition itself: an event recorded after the snapshot was still pending when the monitor was asked, and the
// runtime does record "not ready" in its last-error slot (else the monitor's clearing would guard nothing).
TEST(TotalsMonitor, NotReadyIsNotAnErrorOnTheGpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  TotalsMonitor monitor(Device::CUDA);
  Tensor totals = Tensor::from_vector({12.f, 30.f}, {kTotalsSlots}, Device::CUDA);
  Tensor x = Tensor::zeros({256}, Device::CUDA);
  // CUDA loads a kernel's module on its first launch (lazy loading, the default since CUDA 12.2), and loading may
  // wait for the device: the first launch of Tensor::fill's kernel behind the gate would wait for the gate, which
  // waits for this thread. So it runs once before.
  x.fill(0.f);
  CudaContext::get().synchronize();
  cudaEvent_t behind_the_snapshot = nullptr;
  LOOM_CUDA_CHECK(cudaEventCreateWithFlags(&behind_the_snapshot, cudaEventDisableTiming));
  double loss = -1, accuracy = -1;
  {
    StreamGate gate;  // the snapshot queues behind it
    monitor.request(totals, 40);
    LOOM_CUDA_CHECK(cudaEventRecord(behind_the_snapshot, CudaContext::get().stream()));
    EXPECT_FALSE(monitor.latest(loss, accuracy)) << "the snapshot cannot have landed behind a closed gate";
    EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess) << "'not ready' was left in the runtime's last-error slot";
    // The gate has stayed closed since before the snapshot, so the monitor's query above was answered "not ready";
    // asking the same of an event behind it shows that answer, and where the runtime keeps it.
    EXPECT_EQ(cudaEventQuery(behind_the_snapshot), cudaErrorNotReady);
    EXPECT_EQ(cudaGetLastError(), cudaErrorNotReady)
        << "this runtime no longer records 'not ready' as the last error: TotalsMonitor::latest's clearing and this "
           "test guard nothing any more";
    EXPECT_NO_THROW(x.fill(1.f)) << "the launch check after a 'not ready' query";
    monitor.request(totals, 80);  // still in flight: ignored, never blocks
    EXPECT_FALSE(monitor.latest(loss, accuracy));
    EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess);
  }
  LOOM_CUDA_CHECK(cudaEventDestroy(behind_the_snapshot));
  ASSERT_TRUE(monitor.latest(loss, accuracy)) << "the gate is open and the stream idle";
  EXPECT_DOUBLE_EQ(loss, 0.3);  // over the 40 samples of the snapshot that was taken
  EXPECT_DOUBLE_EQ(accuracy, 0.75);
  EXPECT_EQ(x.to_vector()[255], 1.f);
}

}  // namespace
}  // namespace loom::test
