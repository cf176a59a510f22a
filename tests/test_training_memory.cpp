// The memory a training run needs, sized from the layers before anything is allocated
// (engine/model/training_memory.h), and the refusal that names the figures.
#include "engine/model/training_memory.h"

#include <gtest/gtest.h>

#include "engine/model/models.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace {

using loom::test::expect_one_line_error;

TEST(TrainingMemory, TheTutorialMlpFromItsLayers) {
  const loom::TrainingMemory m = loom::training_memory(loom::mlp_layers({128}), loom::kMlpInputShape, 32);
  EXPECT_EQ(m.parameters, 101770);
  EXPECT_EQ(m.parameter_bytes, 101770.0 * 4 * 4);  // values, gradients, Adam's two moments
  // Boundaries: the input (784) and the two Dense outputs (128, 10) with their gradients (Flatten is a view),
  // then the loss's probabilities (10) and labels (1), float32 or int32, for 32 rows.
  EXPECT_EQ(m.activation_bytes, 32.0 * 4 * (2 * (784 + 128 + 10) + 10 + 1));
  EXPECT_EQ(m.data_bytes, 0);
  EXPECT_EQ(m.total(), m.parameter_bytes + m.activation_bytes);
}

TEST(TrainingMemory, TheTutorialCnnHasKerasParameterCount) {
  const loom::TrainingMemory m = loom::training_memory(loom::cnn_layers(64, 128), loom::kCnnInputShape, 1);
  EXPECT_EQ(m.parameters, 243786);
  // (28,28,1) -> conv (26,26,64) -> pool (13,13,64) -> conv (11,11,64) -> pool (5,5,64) -> [flatten view]
  // -> dense 128 -> dense 10.
  EXPECT_EQ(m.activation_bytes, 4.0 * (2 * (784 + 43264 + 10816 + 7744 + 1600 + 128 + 10) + 10 + 1));
}

TEST(TrainingMemory, HugeModelsAreSizedWithoutOverflowOrAllocation) {
  // 4.3 billion parameters: nothing is allocated to find out, and the figure does not wrap.
  const loom::TrainingMemory m =
      loom::training_memory(loom::mlp_layers({65536, 65536}), loom::kMlpInputShape, int64_t{1} << 40);
  EXPECT_EQ(m.parameters, 784.0 * 65536 + 65536 + 65536.0 * 65536 + 65536 + 65536.0 * 10 + 10);
  EXPECT_GT(m.activation_bytes, 1e18);
}

TEST(TrainingMemory, RefusesWhatDoesNotFitNamingTheFigures) {
  loom::TrainingMemory needed = loom::training_memory(loom::mlp_layers({65536, 65536}), loom::kMlpInputShape, 32);
  needed.data_bytes = 50.0 * 1024 * 1024;
  const loom::AvailableMemory available{22.8 * 1024 * 1024 * 1024, "the host (MemAvailable)"};
  expect_one_line_error<loom::UsageError>(
      [&] { loom::require_memory(needed, available, "use smaller --hidden widths or a smaller --batch-size"); },
      {"training needs at least 64.9 GiB (4,347,133,962 parameters: 64.8 GiB for weights, gradients and the "
       "optimizer's moments; ",
       "82.2 MiB for activations and data), more than the 22.8 GiB free on the host (MemAvailable); use smaller "
       "--hidden widths or a smaller --batch-size"});
  loom::require_memory(loom::training_memory(loom::mlp_layers({128}), loom::kMlpInputShape, 32), available, "");
}

TEST(TrainingMemory, TheHostHasMemoryAvailable) {
  const loom::AvailableMemory host = loom::available_memory(loom::Device::CPU);
  EXPECT_GT(host.bytes, 0);
  EXPECT_FALSE(host.where.empty());
  EXPECT_EQ(loom::memory_size_text(1.5 * 1024 * 1024 * 1024), "1.5 GiB");
  EXPECT_EQ(loom::memory_size_text(12.25 * 1024 * 1024), "12.2 MiB");
}

}  // namespace
