// A short fit of each model on the GPU as users train it (Adam, CUDA graphs, the shuffle, a partial last batch, and
// for the preset augmentation, dropout and batch normalization) against the same fit on the CPU reference path:
// every epoch's loss and accuracy, and every parameter at the end. The graph-versus-launch and resume tests compare
// the GPU with itself, so a kernel bug both GPU paths share passes them; these catch it. (Adam is blind to a
// gradient's scale: the SGD step parity tests in test_model_parity.cpp are the ones that see a wrong factor in a
// gradient.)
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/model/models.h"
#include "engine/training/trainer.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// How far the two fits may stray. Both compute in FP32 but sum in other orders (cuBLAS and cuDNN against OpenBLAS
// and loom's loops), and training amplifies that: a ReLU or a max-pooling window that a rounding tips the other way
// routes a gradient elsewhere, and Adam's early updates are close to ±lr whatever a gradient's size, so a few
// elements can end up apart by whole updates. What stays close is each parameter's update as a whole: the figures
// were measured on the CPU against the same fit from initial weights moved by one part in 10^5 (several times the
// difference FP32's rounding makes), six draws each: the update of no parameter differed by more than 1.5% of its
// size for the MLP, 6% for the CNN and 15% for the preset (at one part in 10^6: 0.3%, 0.3%, 4%; at two parts in
// 10^5 the CNN's reached 18%), and the epoch losses by less than 1e-4, 6e-5 and 6e-4 of their value. A learning
// rate 1.5 times too large on one side fails all three tests (its updates differ by over 50%), as does any update
// gone wrong in a whole layer.
struct FitTolerance {
  double loss_rtol = 2e-3;
  int accuracy_samples = 2;             // an epoch's accuracy may differ by this many near-ties
  double max_update_difference = 0.25;  // |Δw_gpu − Δw_cpu| / |Δw_cpu| per parameter, Δw what the fit changed
  // Parameters whose gradient is zero but for rounding (the bias of a layer a batch normalization follows, which
  // subtracts it again): Adam moves them by rounding alone, so they are held only to Adam's bound below.
  std::set<std::string> moved_by_rounding_alone;
};

// One step of Adam moves a weight by about lr at most; two fits moving it opposite ways a step apart by twice that.
// Held with a margin, it bounds every trainable element, so nothing is wildly off even where rounding tipped it.
constexpr double kAdamStepBound = 3e-3;  // 3 · lr (Keras's 1e-3)

::testing::AssertionResult parameters_agree(Sequential& gpu, Sequential& cpu, Sequential& initial, int64_t steps,
                                            const FitTolerance& tolerance) {
  const std::vector<float> g = gpu.parameters().to_vector(), c = cpu.parameters().to_vector(),
                           start = initial.parameters().to_vector();
  std::ostringstream report;
  for (const Parameter& p : cpu.parameter_store().parameters()) {
    const int64_t n = shape_numel(p.shape);
    double difference = 0, update = 0, worst = 0;
    int64_t beyond_bound = 0;
    for (int64_t i = p.offset; i < p.offset + n; ++i) {
      const double dg = static_cast<double>(g[i]) - start[i], dc = static_cast<double>(c[i]) - start[i];
      difference += (dg - dc) * (dg - dc);
      update += dc * dc;
      worst = std::isfinite(g[i]) ? std::max(worst, std::fabs(dg - dc)) : INFINITY;
      beyond_bound += p.trainable && !(std::fabs(dg - dc) <= kAdamStepBound * static_cast<double>(steps));
    }
    if (beyond_bound > 0)
      report << "\n  " << p.name << ": " << beyond_bound << " of " << n << " elements differ by more than Adam's "
             << kAdamStepBound * static_cast<double>(steps) << " over " << steps << " steps (worst " << worst << ")";
    if (tolerance.moved_by_rounding_alone.count(p.name)) continue;
    const double ratio = std::sqrt(difference / update);
    if (!(ratio <= tolerance.max_update_difference))  // false for NaN, and where the CPU fit left p as it was
      report << "\n  " << p.name << ": the GPU's update differs from the CPU's by " << ratio * 100
             << "% of its size (|Δ| " << std::sqrt(update) << "; worst element " << worst << "), more than "
             << tolerance.max_update_difference * 100 << "%";
  }
  if (report.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "parameters after the GPU and the CPU fit:" << report.str();
}

// Fits the model `make` builds on each device from the same seed with the same data and options; compares them.
void expect_gpu_fit_matches_cpu(const std::function<std::unique_ptr<Sequential>(Device)>& make,
                                const LabeledImages& data, const FitOptions& options, const std::string& what,
                                const FitTolerance& tolerance = {}) {
  SCOPED_TRACE(what);
  auto cpu = make(Device::CPU), gpu = make(Device::CUDA), initial = make(Device::CPU);
  ASSERT_TRUE(all_close(gpu->parameters().to_vector(), to_double(cpu->parameters().to_vector()), 0, 0,
                        "initial weights (the same seed on both devices)"));
  const History cpu_history = Trainer(*cpu).fit(data, options);
  const History gpu_history = Trainer(*gpu).fit(data, options);
  ASSERT_EQ(gpu_history.size(), cpu_history.size());
  const int64_t n = data.images.dim(0);
  for (size_t e = 0; e < cpu_history.size(); ++e) {
    SCOPED_TRACE("epoch " + std::to_string(e + 1));
    EXPECT_GT(gpu_history[e].graph_steps, 0) << "the GPU fit did not replay its captured step";
    EXPECT_NEAR(gpu_history[e].loss, cpu_history[e].loss, tolerance.loss_rtol * cpu_history[e].loss);
    EXPECT_NEAR(gpu_history[e].accuracy, cpu_history[e].accuracy,
                tolerance.accuracy_samples / static_cast<double>(n) + 1e-12);
  }
  const int64_t steps = static_cast<int64_t>(cpu_history.size()) * ((n + options.batch_size - 1) / options.batch_size);
  EXPECT_TRUE(parameters_agree(*gpu, *cpu, *initial, steps, tolerance));
}

FitOptions quiet_fit(int epochs) {
  FitOptions options;
  options.epochs = epochs;
  options.verbose = 0;
  options.seed = 5;
  return options;
}

// The tutorial MLP: 2 epochs of 200 images (6 full batches and one of 8 each; the first step warms up, the other
// full ones replay the graph).
TEST(FitParity, CudaMlpFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  FitTolerance tolerance;
  tolerance.max_update_difference = 0.05;  // the MLP's fit is far steadier (above)
  expect_gpu_fit_matches_cpu([](Device device) { return make_mlp({128}, device, 71); },
                             random_labeled_images(200, kMlpInputShape, 10, 72), quiet_fit(2), "MLP 784-128-10",
                             tolerance);
}

// The tutorial CNN (cuDNN convolutions and pooling, the fused softmax loss on probabilities): 2 epochs of 80 images.
TEST(FitParity, CudaCnnFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  expect_gpu_fit_matches_cpu([](Device device) { return make_cnn(64, 128, device, 73); },
                             random_labeled_images(80, kCnnInputShape, 10, 74), quiet_fit(2), "tutorial CNN");
}

// train_cnn's preset as the preset trains (shifts and flips, dropout, batch normalization; both devices draw the
// same from the seed): one epoch of 80 images. Only one: measured as above, batch normalization over random images
// carries a tipped ReLU or pooling window into every later step, and a second epoch's drift is past what a tolerance
// could allow and still tell a bug.
TEST(FitParity, CudaAugmentedPresetFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  FitOptions options = quiet_fit(1);
  options.augmentation = {2, true};
  FitTolerance tolerance;
  tolerance.moved_by_rounding_alone = {"conv2d.bias", "conv2d_1.bias", "conv2d_2.bias", "dense.bias"};
  expect_gpu_fit_matches_cpu([](Device device) { return make_best_cnn(device, 75); },
                             random_labeled_images(80, kCnnInputShape, 10, 76), options, "preset CNN with augmentation",
                             tolerance);
}

}  // namespace
}  // namespace loom::test
