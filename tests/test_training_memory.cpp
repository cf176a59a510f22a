// The memory a training run needs, sized from the layers before anything is allocated
// (engine/model/training_memory.h), the memory there is (engine/runtime/available_memory.h), and the refusal that
// names the figures.
#include "engine/model/training_memory.h"

#include <gtest/gtest.h>

#include "engine/model/models.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace {

using loom::Device;
using loom::test::expect_one_line_error;

constexpr double kGiB = 1024.0 * 1024 * 1024;

TEST(TrainingMemory, TheTutorialMlpFromItsLayers) {
  const loom::TrainingMemory m = loom::training_memory(loom::mlp_layers({128}), loom::kMlpInputShape, 32, Device::CPU);
  EXPECT_EQ(m.parameters, 101770);
  EXPECT_EQ(m.parameter_bytes, 101770.0 * 4 * 4);  // values, gradients, Adam's two moments
  // Boundaries: the input (784) and the two Dense outputs (128, 10) with their gradients (Flatten is a view),
  // then the loss's probabilities (10) and labels (1), float32 or int32, for 32 rows; no scratch.
  EXPECT_EQ(m.activation_bytes, 32.0 * 4 * (2 * (784 + 128 + 10) + 10 + 1));
  EXPECT_EQ(m.workspace_bytes, 0);
  EXPECT_EQ(m.data_bytes, 0);
  EXPECT_EQ(m.host_bytes, 101770.0 * 4);  // the initialisation's copy
  EXPECT_EQ(m.device_total(), m.parameter_bytes + m.activation_bytes);
}

TEST(TrainingMemory, TheTutorialCnnWithItsConvolutionScratch) {
  const loom::TrainingMemory cpu =
      loom::training_memory(loom::cnn_layers(64, 128), loom::kCnnInputShape, 1, Device::CPU);
  EXPECT_EQ(cpu.parameters, 243786);  // as Keras counts
  // (28,28,1) -> conv (26,26,64) -> pool (13,13,64) -> conv (11,11,64) -> pool (5,5,64) -> [flatten view]
  // -> dense 128 -> dense 10; the largest scratch is the second convolution's, at one sample: an im2col buffer of
  // 11x11 rows of 3x3x64 a thread (its weight gradient has a single part, so no buffer for parts).
  const double boundaries = 784 + 43264 + 10816 + 7744 + 1600 + 128 + 10;
  EXPECT_EQ(cpu.activation_bytes, 4.0 * (2 * boundaries + 10 + 1 + loom::cpu_threads() * 11 * 11 * 9 * 64));
  EXPECT_EQ(cpu.workspace_bytes, 0);
  // At batch 32 that buffer holds one image's rows still (an image is already more than a chunk's worth), and the
  // weight gradient is summed in 8 parts of 64x(3x3x64).
  const loom::TrainingMemory batch =
      loom::training_memory(loom::cnn_layers(64, 128), loom::kCnnInputShape, 32, Device::CPU);
  EXPECT_EQ(batch.activation_bytes,
            4.0 * (32 * (2 * boundaries + 10 + 1) + loom::cpu_threads() * 11 * 11 * 9 * 64 + 8 * 64 * 9 * 64));
  // On the GPU cuDNN needs no im2col from loom, but a workspace.
  const loom::TrainingMemory gpu =
      loom::training_memory(loom::cnn_layers(64, 128), loom::kCnnInputShape, 1, Device::CUDA);
  EXPECT_EQ(gpu.activation_bytes, 4.0 * (2 * boundaries + 10 + 1));
  EXPECT_EQ(gpu.workspace_bytes, 256.0 * 1024 * 1024);
}

TEST(TrainingMemory, HugeModelsAreSizedWithoutOverflowOrAllocation) {
  // 4.3 billion parameters: nothing is allocated to find out, and the figure does not wrap.
  const loom::TrainingMemory m =
      loom::training_memory(loom::mlp_layers({65536, 65536}), loom::kMlpInputShape, int64_t{1} << 40, Device::CPU);
  EXPECT_EQ(m.parameters, 784.0 * 65536 + 65536 + 65536.0 * 65536 + 65536 + 65536.0 * 10 + 10);
  EXPECT_GT(m.activation_bytes, 1e18);
}

TEST(TrainingMemory, RefusesWhatDoesNotFitNamingTheFigures) {
  loom::TrainingMemory needed =
      loom::training_memory(loom::mlp_layers({65536, 65536}), loom::kMlpInputShape, 32, Device::CPU);
  const loom::AvailableMemory host{22.8 * kGiB, "the host (MemAvailable)"};
  expect_one_line_error<loom::UsageError>(
      [&] { loom::require_memory(needed, Device::CPU, host, host, "use smaller --hidden widths"); },
      {"training needs at least 81.0 GiB (4,347,133,962 parameters: 81.0 GiB for weights, gradients, the "
       "optimizer's moments and their copies; ",
       " MiB for activations and data), more than the 22.8 GiB free on the host (MemAvailable); use smaller "
       "--hidden widths"});
  const loom::TrainingMemory tutorial =
      loom::training_memory(loom::mlp_layers({128}), loom::kMlpInputShape, 32, Device::CPU);
  loom::require_memory(tutorial, Device::CPU, host, host, "");
  // A figure that could not be read refuses nothing.
  loom::require_memory(needed, Device::CPU, loom::AvailableMemory{}, loom::AvailableMemory{}, "");
}

TEST(TrainingMemory, AGpuRunNeedsTheHostForItsCopies) {
  loom::TrainingMemory needed = loom::training_memory(loom::mlp_layers({4096}), loom::kMlpInputShape, 32, Device::CUDA);
  needed.host_bytes = 3 * kGiB;  // e.g. a checkpoint being written
  const loom::AvailableMemory gpu{70 * kGiB, "the GPU (H100)"}, small_host{2 * kGiB, "the host (MemAvailable)"};
  expect_one_line_error<loom::UsageError>(
      [&] { loom::require_memory(needed, Device::CUDA, gpu, small_host, "hint"); },
      {"training needs at least 3.0 GiB", "more than the 2.0 GiB free on the host (MemAvailable); hint"});
  loom::require_memory(needed, Device::CUDA, gpu, loom::AvailableMemory{70 * kGiB, "the host"}, "");
  // On the CPU the device and the host are one memory: both parts count against it.
  expect_one_line_error<loom::UsageError>(
      [&] { loom::require_memory(needed, Device::CPU, small_host, small_host, "hint"); }, {"more than the 2.0 GiB"});
}

TEST(AvailableMemory, ContainerLimitsCountDroppableCacheAsFree) {
  // A container that has filled its 8 GiB with file cache still has the cache to give.
  const std::string stat = "anon 1073741824\nfile 6442450944\ninactive_file 5368709120\nactive_file 1073741824\n";
  EXPECT_EQ(loom::cgroup_memory_left("8589934592\n", "8589934592\n", stat, "inactive_file"),
            8589934592.0 - (8589934592.0 - 5368709120.0));
  EXPECT_EQ(loom::cgroup_memory_left("1000\n", "400\n", "", "inactive_file"), 600);
  EXPECT_EQ(loom::cgroup_memory_left("1000\n", "1200\n", "", "inactive_file"), 0);  // over (swap): nothing left
  EXPECT_LT(loom::cgroup_memory_left("max\n", "400\n", stat, "inactive_file"), 0);  // no limit
  EXPECT_LT(loom::cgroup_memory_left("", "", "", "inactive_file"), 0);              // not a cgroup here
  EXPECT_EQ(loom::cgroup_memory_left("1000", "900", "total_inactive_file 300\n", "total_inactive_file"), 400);
}

TEST(AvailableMemory, TheHostHasSome) {
  const loom::AvailableMemory host = loom::available_memory(Device::CPU);
  EXPECT_GT(host.bytes, 0) << "no /proc/meminfo and no cgroup limit readable here";
  EXPECT_FALSE(host.where.empty());
  EXPECT_EQ(loom::memory_size_text(1.5 * kGiB), "1.5 GiB");
  EXPECT_EQ(loom::memory_size_text(12.25 * 1024 * 1024), "12.2 MiB");
}

}  // namespace
