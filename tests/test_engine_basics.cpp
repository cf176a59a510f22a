// Engine pieces with no op of their own: device selection (and its words in a build without the CUDA path), tensors
// and views, the Keras-style progress line, the non-stalling totals monitor, epoch timing, and CUDA graphs (the CUDA
// tests skip, saying why, without a GPU or in a build without the CUDA path).
#include <chrono>
#include <cmath>
#include <sstream>

#include <gtest/gtest.h>

#include "engine/runtime/buffer.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_graph.h"
#include "engine/runtime/epoch_timer.h"
#include "engine/runtime/errors.h"
#include "engine/training/progress_bar.h"
#include "engine/training/totals_monitor.h"
#include "kernels/totals.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

TEST(Device, FlagsResolveOrFailInWords) {
  std::string note;
  EXPECT_EQ(resolve_device("cpu", &note), Device::CPU);
  EXPECT_TRUE(note.empty());
  try {
    resolve_device("tpu", &note);
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("'tpu'"), std::string::npos) << e.what();
  }
  if (probe_cuda().usable) {
    EXPECT_EQ(resolve_device("auto", &note), Device::CUDA);
    EXPECT_EQ(resolve_device("cuda", &note), Device::CUDA);
  } else {
    EXPECT_FALSE(probe_cuda().reason.empty());
    note.clear();
    EXPECT_EQ(resolve_device("auto", &note), Device::CPU);
    EXPECT_NE(note.find("running on the CPU"), std::string::npos) << note;
    try {
      resolve_device("cuda", &note);
      FAIL() << "expected an error";
    } catch (const UsageError& e) {
      // Without the CUDA path the error says how to rebuild (Device.BuildWithoutCudaSaysSoAndHowToRebuild).
      const std::string why = cuda_path_built() ? probe_cuda().reason : "loom was built without CUDA";
      EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what();
    }
  }
}

// The words of a build without the CUDA path (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit), from the pure function
// resolve_device applies, so that a build with the path checks them too.
TEST(Device, BuildWithoutCudaSaysSoAndHowToRebuild) {
  const CudaProbe absent{false, no_cuda_path_reason(), "", 0, 0};
  EXPECT_EQ(no_cuda_path_reason(), "this build has no CUDA path (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit)");
  std::string note;
  EXPECT_EQ(choose_device("cpu", absent, false, &note), Device::CPU);
  EXPECT_TRUE(note.empty());
  EXPECT_EQ(choose_device("auto", absent, false, &note), Device::CPU);
  EXPECT_EQ(note, "this build has no CUDA path (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit): running on the CPU");
  try {
    choose_device("cuda", absent, false, &note);
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "--device cuda: loom was built without CUDA (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit): "
                 "rebuild with -DLOOM_CUDA=ON, "
                 "with the CUDA toolkit and cuDNN installed");
  }
  try {
    throw_no_cuda_path("relu_forward on the GPU");
  } catch (const UsageError&) {
    FAIL() << "a CUDA entry point reached at run time is a failure, not a usage error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "relu_forward on the GPU: loom was built without CUDA (LOOM_CUDA=OFF, or AUTO without the CUDA "
                 "toolkit): rebuild with "
                 "-DLOOM_CUDA=ON, with the CUDA toolkit and cuDNN installed, or run with --device cpu");
  }
  // With the CUDA path, the probe's own reason is what --device cuda reports.
  const CudaProbe no_gpu{false, "no CUDA device found", "", 0, 0};
  try {
    choose_device("cuda", no_gpu, true, &note);
    FAIL() << "expected a usage error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--device cuda: no CUDA device found");
  }
}

// This build, whichever it is: without the CUDA path the probe says so, and nothing can be put on the GPU.
TEST(Device, ThisBuildKnowsWhetherItHasTheCudaPath) {
  if (cuda_path_built()) {
    EXPECT_NE(probe_cuda().reason, no_cuda_path_reason());
    return;
  }
  EXPECT_FALSE(probe_cuda().usable);
  EXPECT_EQ(probe_cuda().reason, no_cuda_path_reason());
  try {
    Tensor on_gpu({4}, Device::CUDA);
    FAIL() << "a tensor on the GPU in a build without the CUDA path";
  } catch (const Error& e) {
    EXPECT_NE(
        std::string(e.what()).find("loom was built without CUDA (LOOM_CUDA=OFF, or AUTO without the CUDA toolkit)"),
        std::string::npos)
        << e.what();
  }
}

TEST(Tensor, ViewsShareMemoryAndCopiesDoNot) {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, Device::CPU);
  Tensor middle = t.rows(1, 2);
  EXPECT_EQ(middle.shape(), (Shape{1, 2}));
  middle.f32()[0] = 30.f;
  EXPECT_EQ(t.to_vector()[2], 30.f);
  Tensor flat = t.reshaped({6});
  EXPECT_FALSE(flat.owns_memory());
  Tensor copy = t.to(Device::CPU);
  copy.f32()[0] = -1.f;
  EXPECT_EQ(t.to_vector()[0], 1.f);
  EXPECT_THROW(t.reshaped({4}), Error);
  EXPECT_THROW(t.rows(2, 4), Error);
  EXPECT_THROW(t.data<int32_t>(), Error);  // float32 read as int32
  Tensor ints({2}, Device::CPU, DType::I32);
  EXPECT_THROW(ints.copy_from(t), Error);
  EXPECT_EQ(shape_str({3}), "(3,)");
  EXPECT_EQ(shape_str({32, 28, 28}), "(32, 28, 28)");
}

TEST(ProgressBar, FinalLineLooksLikeKeras) {
  EXPECT_EQ(ProgressBar::format(1875, 1875, 3.2, 0.4974, 0.8242),
            "1875/1875 [==============================] - 3s 2ms/step - loss: 0.4974 - accuracy: 0.8242");
  EXPECT_EQ(ProgressBar::format(313, 313, 0.4, -1, -1), "313/313 [==============================] - 0s 1ms/step");
}

TEST(ProgressBar, RunningLineShowsProgressAndEta) {
  EXPECT_EQ(ProgressBar::format(10, 1875, 1.0, 1.25, 0.5),
            "  10/1875 [..............................] - ETA: 186s - loss: 1.2500 - accuracy: 0.5000");
  EXPECT_EQ(ProgressBar::format(938, 1875, 1.0, -1, -1), " 938/1875 [==============>...............] - ETA: 1s");
  EXPECT_EQ(ProgressBar::format_step_time(2.5), "2s/step");  // %.0f rounds half to even
  EXPECT_EQ(ProgressBar::format_step_time(0.0012), "1ms/step");
  EXPECT_EQ(ProgressBar::format_step_time(0.000437), "437us/step");
}

// A clock that stands still until the test moves it, so what the bar prints does not depend on the machine's speed.
struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  ProgressBar::Clock clock() {
    return [this] { return now; };
  }
};

TEST(ProgressBar, OnlyTheFinalLineWhenNotATerminal) {
  using std::chrono::milliseconds;
  std::ostringstream out;
  FakeClock time;
  ProgressBar bar(4, out, false, time.clock());
  time.now += milliseconds(700);
  bar.update(2, 1.0, 0.5);
  EXPECT_EQ(out.str(), "");
  time.now += milliseconds(1300);  // 2 s for 4 steps
  bar.finish(0.75, 0.625);
  EXPECT_EQ(out.str(), "4/4 [==============================] - 2s 500ms/step - loss: 0.7500 - accuracy: 0.6250\n");
}

TEST(ProgressBar, RedrawsInPlaceAtMostEvery50Milliseconds) {
  using std::chrono::milliseconds;
  std::ostringstream out;
  FakeClock time;
  ProgressBar bar(4, out, true, time.clock());
  time.now += milliseconds(20);
  bar.update(1, 2.0, 0.25);
  EXPECT_EQ(out.str(), "") << "too soon after the start to redraw";
  time.now += milliseconds(980);  // 1 s for 2 steps: 1 s to go
  bar.update(2, 1.0, 0.5);
  const std::string running = "\r2/4 [==============>...............] - ETA: 1s - loss: 1.0000 - accuracy: 0.5000";
  EXPECT_EQ(out.str(), running);
  time.now += milliseconds(10);
  bar.update(3, 1.0, 0.5);
  EXPECT_EQ(out.str(), running) << "a redraw 10 ms after the last one";
  time.now += milliseconds(990);
  bar.finish(0.75, 0.625);
  // The final line overwrites the running one in place, padded to its width so no stale text shows.
  const std::string final_line =
      "4/4 [==============================] - 2s 500ms/step - loss: 0.7500 - accuracy: 0.6250";
  std::string padding(running.size() - 1 > final_line.size() ? running.size() - 1 - final_line.size() : 0, ' ');
  EXPECT_EQ(out.str(), running + "\r" + final_line + padding + "\n");
}

TEST(TotalsMonitor, ReadsMeansOnTheCpu) {
  TotalsMonitor monitor(Device::CPU);
  double loss = -1, accuracy = -1;
  EXPECT_FALSE(monitor.latest(loss, accuracy));
  Tensor totals = Tensor::from_vector({12.f, 30.f}, {kTotalsSlots}, Device::CPU);
  monitor.request(totals, 40);
  ASSERT_TRUE(monitor.latest(loss, accuracy));
  EXPECT_DOUBLE_EQ(loss, 0.3);
  EXPECT_DOUBLE_EQ(accuracy, 0.75);
  monitor.reset();
  EXPECT_FALSE(monitor.latest(loss, accuracy));
}

TEST(EpochTimer, ReportsNothingOnTheCpu) {
  EpochTimer timer(Device::CPU);
  timer.start();
  timer.stop();
  EXPECT_EQ(timer.elapsed_ms(), 0.0);
}

TEST(EpochTimer, TimesQueuedGpuWork) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  Tensor x = Tensor::zeros({int64_t(1) << 24}, Device::CUDA);  // 64 MiB per fill
  EpochTimer timer(Device::CUDA);
  timer.start();
  for (int i = 0; i < 20; ++i) x.fill(static_cast<float>(i));
  timer.stop();
  const double ms = timer.elapsed_ms();  // waits for the stop event
  EXPECT_TRUE(std::isfinite(ms)) << ms;
  EXPECT_GT(ms, 0.0) << "1.3 GB of writes take time on any GPU";
  EXPECT_EQ(x.to_vector()[0], 19.f);
  timer.start();  // reusable: a second stretch is timed on its own
  timer.stop();
  EXPECT_GE(timer.elapsed_ms(), 0.0);
}

// A kernel's first launch may load its module (lazy loading), and loading inside a stream capture can break the
// capture: each kernel a test captures (here Tensor::fill's) runs once before, as fit's first step does for the
// training step.
void load_the_fill_kernel() {
  Tensor warm = Tensor::zeros({1}, Device::CUDA);
  warm.fill(0.f);
  CudaContext::get().synchronize();
}

TEST(CudaGraph, ReplaysCapturedWork) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  load_the_fill_kernel();
  Tensor x = Tensor::zeros({1000}, Device::CUDA);
  CudaGraph graph;
  float value = 1.f;
  graph.capture([&] { x.fill(value); });
  EXPECT_TRUE(graph.ready());
  EXPECT_EQ(x.to_vector()[0], 0.f) << "capturing must not run the work";
  graph.launch();
  EXPECT_EQ(x.to_vector()[999], 1.f);
}

// A graph holds raw pointers: once any buffer is freed after its capture it must not be replayed, only recaptured.
TEST(CudaGraph, GoesStaleWhenAnyBufferIsFreedAfterCapture) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  load_the_fill_kernel();
  Tensor x = Tensor::zeros({1000}, Device::CUDA);
  CudaGraph graph;
  EXPECT_FALSE(graph.stale()) << "nothing captured is not stale";
  graph.capture([&] { x.fill(3.f); });
  EXPECT_FALSE(graph.stale());
  Tensor unrelated = Tensor::zeros({10}, Device::CUDA);
  EXPECT_FALSE(graph.stale()) << "an allocation moves nothing the graph uses";
  unrelated = Tensor();  // freed
  EXPECT_TRUE(graph.stale());
  EXPECT_THROW(graph.launch(), Error);
  EXPECT_EQ(x.to_vector()[0], 0.f) << "a refused replay must not run";
  graph.capture([&] { x.fill(4.f); });
  EXPECT_FALSE(graph.stale());
  graph.launch();
  EXPECT_EQ(x.to_vector()[999], 4.f);
}

TEST(Buffer, ReleasingHostMemoryMovesNoGraph) {
  const uint64_t before = Buffer::gpu_visible_releases();
  { Buffer host(Memory::Host, 1024); }
  EXPECT_EQ(Buffer::gpu_visible_releases(), before) << "host memory is never in a graph";
}

TEST(Buffer, CountsReleasesOfDeviceAndPinnedMemory) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const uint64_t before = Buffer::gpu_visible_releases();
  { Buffer device(Memory::Device, 1024); }
  EXPECT_EQ(Buffer::gpu_visible_releases(), before + 1);
  { Buffer pinned(Memory::PinnedHost, 1024); }
  EXPECT_EQ(Buffer::gpu_visible_releases(), before + 2);
  Buffer moved(Memory::Device, 64);
  moved = Buffer(Memory::Device, 128);  // the old block is freed by the assignment
  EXPECT_EQ(Buffer::gpu_visible_releases(), before + 3);
}

TEST(CudaGraph, FailedCaptureLeavesTheStreamUsable) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  CudaGraph graph;
  EXPECT_THROW(graph.capture([] { throw Error("planted failure inside the capture"); }), Error);
  EXPECT_FALSE(graph.ready());
  Tensor x = Tensor::zeros({10}, Device::CUDA);
  x.fill(2.f);
  EXPECT_EQ(x.to_vector()[9], 2.f);
}

}  // namespace
}  // namespace loom::test
