// Engine pieces with no op of their own: device selection, tensors and views, the Keras-style progress line, the
// non-stalling totals monitor on the CPU, and CUDA graphs (which skip, saying why, without a GPU).
#include <sstream>

#include <gtest/gtest.h>

#include "engine/cuda_graph.h"
#include "engine/errors.h"
#include "engine/progress_bar.h"
#include "engine/totals_monitor.h"
#include "kernels/fill.h"
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
      EXPECT_NE(std::string(e.what()).find(probe_cuda().reason), std::string::npos) << e.what();
    }
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

TEST(ProgressBar, OnlyTheFinalLineWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar(4, out, false);
  bar.update(2, 1.0, 0.5);
  EXPECT_EQ(out.str(), "");
  bar.finish(0.75, 0.625);
  EXPECT_EQ(out.str().substr(0, 44), "4/4 [==============================] - 0s 0u");
  EXPECT_NE(out.str().find("loss: 0.7500 - accuracy: 0.6250\n"), std::string::npos) << out.str();
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

TEST(CudaGraph, ReplaysCapturedWork) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  Tensor x = Tensor::zeros({1000}, Device::CUDA);
  CudaGraph graph;
  float value = 1.f;
  graph.capture([&] { fill_tensor(x, value); });
  EXPECT_TRUE(graph.ready());
  EXPECT_EQ(x.to_vector()[0], 0.f) << "capturing must not run the work";
  graph.launch();
  EXPECT_EQ(x.to_vector()[999], 1.f);
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
