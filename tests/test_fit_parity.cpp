// A short fit of each model on the GPU as users train it (Adam, CUDA graphs, the shuffle, a partial last batch, and
// for the preset augmentation, dropout and batch normalization) against the same fit on the CPU reference path:
// every epoch's loss and accuracy, and every parameter at the end. The graph-versus-launch and resume tests compare
// the GPU with itself, so a kernel bug both GPU paths share passes them; these catch it. (Adam is blind to a
// gradient's scale: the SGD step parity tests in test_model.cpp and test_cnn_model.cpp are the ones that see a wrong
// factor in a gradient.)
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/model/models.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// How far the two fits may stray. Both compute in FP32 but sum in other orders (cuBLAS and cuDNN against OpenBLAS
// and loom's loops), and training amplifies that: a ReLU or a max-pooling window that a rounding tips the other way
// routes a gradient elsewhere, and Adam's early updates are close to ±lr whatever a gradient's size. The figures
// were measured on the CPU against the same fit from initial weights moved by one part in 10^5 (ten times FP32's
// rounding, as a convolution algorithm with transforms can differ): the losses stayed within 3e-5 of each other,
// and at most 5% of any parameter's elements strayed beyond 1e-4 + 1e-3·|w| (from one part in 10^6, under 0.1%).
// A learning rate 2% off on one side fails all three tests.
struct FitTolerance {
  double loss_rtol = 2e-4;
  int accuracy_samples = 2;                // an epoch's accuracy may differ by this many near-ties
  double atol = 1e-4, rtol = 1e-3;         // an element "matches" within atol + rtol·|cpu|
  double max_fraction_astray = 0.10;       // of each parameter's elements, at most this many may not
  // Parameters whose gradient is zero but for rounding (the bias of a layer a batch normalization follows, which
  // subtracts it again): Adam moves them by rounding alone, so they are held only to Adam's bound below.
  std::set<std::string> moved_by_rounding_alone;
};

// One step of Adam moves a weight by about lr at most; two fits moving it opposite ways a step apart by twice that.
// Held with a margin, it bounds every trainable element, so nothing can be wildly off even among the few astray.
constexpr double kAdamStepBound = 3e-3;  // 3 · lr (Keras's 1e-3)

::testing::AssertionResult parameters_agree(Sequential& gpu, Sequential& cpu, Sequential& initial, int64_t steps,
                                            const FitTolerance& tolerance) {
  const std::vector<float> g = gpu.parameters().to_vector(), c = cpu.parameters().to_vector(),
                           start = initial.parameters().to_vector();
  std::ostringstream report;
  for (const Parameter& p : cpu.parameter_store().parameters()) {
    const int64_t n = shape_numel(p.shape);
    const bool rounding_alone = tolerance.moved_by_rounding_alone.count(p.name) > 0;
    int64_t astray = 0, moved = 0, beyond_bound = 0;
    double worst = 0;
    for (int64_t i = p.offset; i < p.offset + n; ++i) {
      const double diff = std::fabs(static_cast<double>(g[i]) - c[i]);
      const double tight = tolerance.atol + tolerance.rtol * std::fabs(c[i]);
      worst = std::isfinite(g[i]) ? std::max(worst, diff) : INFINITY;
      astray += !(diff <= tight);
      moved += std::fabs(static_cast<double>(c[i]) - start[i]) > tight;
      beyond_bound += p.trainable && !(diff <= kAdamStepBound * static_cast<double>(steps));
    }
    if (beyond_bound > 0)
      report << "\n  " << p.name << ": " << beyond_bound << " of " << n << " elements differ by more than Adam's "
             << kAdamStepBound * static_cast<double>(steps) << " over " << steps << " steps (worst " << worst << ")";
    if (!rounding_alone && astray > tolerance.max_fraction_astray * static_cast<double>(n))
      report << "\n  " << p.name << ": " << astray << " of " << n << " elements differ by more than " << tolerance.atol
             << " + " << tolerance.rtol << "·|w| (worst " << worst << "), more than "
             << tolerance.max_fraction_astray * 100 << "% may";
    // The comparison means something only where the fit moved the weights further than the tolerance.
    if (p.trainable && !rounding_alone && 2 * moved < n)
      report << "\n  " << p.name << ": only " << moved << " of " << n
             << " elements moved beyond the tolerance during the fit, too few for the comparison to tell";
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
  const History cpu_history = cpu->fit(data, options);
  const History gpu_history = gpu->fit(data, options);
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
  expect_gpu_fit_matches_cpu([](Device device) { return make_mlp({128}, device, 71); },
                             random_labeled_images(200, kMlpInputShape, 10, 72), quiet_fit(2), "MLP 784-128-10");
}

// The tutorial CNN (cuDNN convolutions and pooling, the fused softmax loss on probabilities): 2 epochs of 80 images.
TEST(FitParity, CudaCnnFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  expect_gpu_fit_matches_cpu([](Device device) { return make_cnn(64, 128, device, 73); },
                             random_labeled_images(80, kCnnInputShape, 10, 74), quiet_fit(2), "tutorial CNN");
}

// train_cnn's preset as the preset trains (shifts and flips, dropout, batch normalization; both devices draw the
// same from the seed): one epoch of 80 images. Only one: measured as above, a second epoch already leaves a third of
// some kernels' elements astray, more than a tolerance could allow and still tell a bug.
TEST(FitParity, CudaAugmentedPresetFitMatchesTheCpu) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  FitOptions options = quiet_fit(1);
  options.augmentation = {2, true};
  FitTolerance tolerance;
  tolerance.moved_by_rounding_alone = {"conv2d.bias", "conv2d_1.bias", "conv2d_2.bias", "dense.bias"};
  expect_gpu_fit_matches_cpu([](Device device) { return make_best_cnn(device, 75); },
                             random_labeled_images(80, kCnnInputShape, 10, 76), options,
                             "preset CNN with augmentation", tolerance);
}

}  // namespace
}  // namespace loom::test
