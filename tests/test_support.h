// Shared test machinery: device-typed fixtures that skip visibly without a GPU, seeded random data that is never
// trivial, tolerance comparison that reports the first mismatches, and a Caffe-style central-difference checker.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/device.h"
#include "engine/tensor.h"

namespace loom::test {

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

// Skips the current test, saying why, when `device` is CUDA and no usable GPU is present.
#define LOOM_SKIP_IF_UNAVAILABLE(device)                                                         \
  do {                                                                                           \
    if ((device) == ::loom::Device::CUDA && !::loom::probe_cuda().usable)                        \
      GTEST_SKIP() << "CUDA test skipped: " << ::loom::probe_cuda().reason;                      \
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
::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected,
                                     double atol, double rtol, const std::string& what);

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

// Directory with the Fashion-MNIST files, or empty if not installed (end-to-end tests skip then).
std::string fashion_mnist_dir_or_empty();

}  // namespace loom::test
