// Shared test machinery: device-typed fixtures that skip visibly without a GPU, seeded random data that is never
// trivial, tolerance comparison that reports the first mismatches, and a Caffe-style central-difference checker.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/data/labeled_images.h"
#include "engine/model/sequential.h"
#include "engine/runtime/device.h"
#include "engine/runtime/tensor.h"
#include "engine/training/trainer.h"

namespace loom::test {

// Sets or clears an environment variable for one test and puts the old value back, whatever the test does.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      setenv(name, value, 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Sets the CPU path's thread count (engine/runtime/cpu_threads.h) for one test and puts the old one back.
class ScopedCpuThreads {
 public:
  explicit ScopedCpuThreads(int threads);
  ~ScopedCpuThreads();
  ScopedCpuThreads(const ScopedCpuThreads&) = delete;
  ScopedCpuThreads& operator=(const ScopedCpuThreads&) = delete;

 private:
  int saved_;
};

// A fresh folder for each test, removed afterwards (its permissions restored first: a test may make it read-only).
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string path(const std::string& name) const;
  std::string dir_;
};

// Typed tests over devices: the same body runs on the CPU reference and on CUDA.
struct OnCpu {
  static constexpr Device device = Device::CPU;
};
struct OnCuda {
  static constexpr Device device = Device::CUDA;
};
using AllDevices = ::testing::Types<OnCpu, OnCuda>;

class DeviceNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return T::device == Device::CPU ? "cpu" : "cuda";
  }
};

// True when the environment says LOOM_REQUIRE_CUDA=1: on a machine that is meant to have a GPU, a test that would
// skip for want of one fails instead, so a broken driver or a build without the GPU's code cannot pass as "skipped".
bool cuda_required();

// Skips the current test, saying why, when `device` is CUDA and no usable GPU is present; fails it instead under
// LOOM_REQUIRE_CUDA=1.
#define LOOM_SKIP_IF_UNAVAILABLE(device)                                                          \
  do {                                                                                            \
    if ((device) == ::loom::Device::CUDA && !::loom::probe_cuda().usable) {                       \
      if (::loom::test::cuda_required())                                                          \
        GTEST_FAIL() << "LOOM_REQUIRE_CUDA=1 but no usable GPU: " << ::loom::probe_cuda().reason; \
      GTEST_SKIP() << "CUDA test skipped: " << ::loom::probe_cuda().reason;                       \
    }                                                                                             \
  } while (0)

template <class Tag>
class DeviceTest : public ::testing::Test {
 protected:
  static constexpr Device device = Tag::device;
  void SetUp() override { LOOM_SKIP_IF_UNAVAILABLE(device); }
};

// Uniform in [lo, hi]; seeded so a failure reproduces.
std::vector<float> random_floats(size_t n, std::mt19937& rng, float lo = -1.f, float hi = 1.f);
std::vector<double> random_doubles(size_t n, std::mt19937& rng, double lo = -1.0, double hi = 1.0);
std::vector<int32_t> random_labels(size_t n, int classes, std::mt19937& rng);
std::vector<double> to_double(const std::vector<float>& v);
double dot(const std::vector<double>& a, const std::vector<double>& b);  // the scalar loss Σ r ⊙ y of op checks

// Tensor from host data on `device`; an int32 tensor from labels.
Tensor make_tensor(const std::vector<float>& values, const Shape& shape, Device device);
Tensor make_labels(const std::vector<int32_t>& labels, Device device);
// A float tensor of `shape` on `device` filled with NaN, so an element the op fails to write fails the comparison.
Tensor poisoned(const Shape& shape, Device device);

// |actual - expected| <= atol + rtol·|expected| for every element; NaN never passes. On failure, names `what` and
// lists the first mismatches.
::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected, double atol,
                                     double rtol, const std::string& what);

// Central-difference gradient check (after Caffe's GradientChecker): for each element i of x,
//   numeric_i = (loss(x + h·e_i) - loss(x - h·e_i)) / 2h
// must match analytic_i within threshold · max(1, |numeric_i|, |analytic_i|). `loss` reads x, which the checker
// perturbs in place and restores. Elements for which skip(i) is true (e.g. inputs at a ReLU kink) are not checked.
struct GradientCheckOptions {
  double step = 1e-6;
  double threshold = 1e-6;
  std::function<bool(size_t)> skip;
};
::testing::AssertionResult check_gradient(std::vector<double>& x, const std::function<double()>& loss,
                                          const std::vector<double>& analytic, const std::string& what,
                                          const GradientCheckOptions& options = {});

// Float variant for whole models: same rule, perturbing float parameters.
::testing::AssertionResult check_gradient_f32(std::vector<float>& x, const std::function<double()>& loss,
                                              const std::vector<float>& analytic, const std::string& what,
                                              const std::vector<size_t>& indices, double step, double threshold);

// A batch of random images in [0, 1] and labels, for a model with per-sample input shape `input`.
struct Batch {
  Tensor x, labels;
};
Batch random_batch(int64_t n, const Shape& input, int classes, unsigned seed, Device device);

// The same training steps on the CPU reference and on the GPU: `rounds` times one random batch of each size in
// `batch_sizes` (a full and a partial one, say).
void train_side_by_side(Trainer& cpu, Trainer& gpu, const Shape& input, int classes,
                        const std::vector<int64_t>& batch_sizes, int rounds, unsigned seed);

// Two copies of a model fitted to the same data for `epochs`, one with ordinary launches, one replaying the training
// step as a CUDA graph, with the trainers that fitted them.
struct GraphComparison {
  std::unique_ptr<Sequential> eager, graphed;
  std::unique_ptr<Trainer> eager_trainer, graph_trainer;
  std::vector<EpochResult> eager_history, graph_history;
};
GraphComparison fit_with_and_without_graph(const std::function<std::unique_ptr<Sequential>()>& make_model,
                                           const LabeledImages& data, int epochs);

// n random uint8 images of per-sample shape `sample` with random labels below `classes`, on the host, as fit,
// evaluate and predict take them.
LabeledImages random_labeled_images(int64_t n, const Shape& sample, int classes, unsigned seed);

// A CNN small enough to check every gradient of, with each layer kind of the tutorial's CNN: Conv2D (same padding
// with ReLU, valid without), MaxPool2D, Flatten and Dense(softmax), on 7x7x2 images of 4 classes; compiled with SGD.
std::unique_ptr<Sequential> small_cnn(Device device, uint64_t seed);

// Directory with the Fashion-MNIST files, or empty if not installed (end-to-end tests skip then).
std::string fashion_mnist_dir_or_empty();

// How many times `part` occurs in `text`, without overlaps.
size_t count_of(const std::string& text, const std::string& part);

// The whole file as bytes ("" when it cannot be read).
std::string slurp(const std::string& path);

// Runs `body`, which must throw E with a one-line message containing every one of `parts`.
template <class E, class Body>
void expect_one_line_error(Body body, const std::vector<std::string>& parts) {
  try {
    body();
    ADD_FAILURE() << "no error; expected one saying: " << parts.front();
  } catch (const E& e) {
    const std::string what = e.what();
    for (const std::string& part : parts) EXPECT_NE(what.find(part), std::string::npos) << what << "\nlacks: " << part;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

}  // namespace loom::test
