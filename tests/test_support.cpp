#include "tests/test_support.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "engine/fashion_mnist.h"

namespace loom::test {

std::vector<float> random_floats(size_t n, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> random_doubles(size_t n, std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

std::vector<int32_t> random_labels(size_t n, int classes, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> v(n);
  for (int32_t& x : v) x = dist(rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Tensor make_tensor(const std::vector<float>& values, const Shape& shape, Device device) {
  return Tensor::from_vector(values, shape, device);
}

Tensor make_labels(const std::vector<int32_t>& labels, Device device) {
  Tensor host = Tensor::wrap(const_cast<int32_t*>(labels.data()), {static_cast<int64_t>(labels.size())},
                             Device::CPU, DType::I32);
  return host.to(device);
}

Tensor poisoned(const Shape& shape, Device device) {
  Tensor t(shape, device);
  t.fill(std::nanf(""));
  return t;
}

::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected,
                                     double atol, double rtol, const std::string& what) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << what << ": " << actual.size() << " values, expected " << expected.size();
  std::ostringstream report;
  size_t bad = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    double diff = std::fabs(static_cast<double>(actual[i]) - expected[i]);
    bool ok = std::isfinite(actual[i]) && diff <= atol + rtol * std::fabs(expected[i]);
    if (!ok && ++bad <= 5)
      report << "\n  [" << i << "] got " << actual[i] << ", expected " << expected[i] << " (diff " << diff << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << actual.size()
                                       << " elements outside atol " << atol << " + rtol " << rtol << report.str();
}

namespace {
template <class T>
void check_one(T& xi, const std::function<double()>& loss, double analytic, double step,
                                     double threshold, size_t i, size_t& bad, std::ostringstream& report) {
  const T saved = xi;
  xi = static_cast<T>(saved + step);
  double plus = loss();
  xi = static_cast<T>(saved - step);
  double minus = loss();
  xi = saved;
  double numeric = (plus - minus) / (2 * step);
  double scale = std::max({1.0, std::fabs(numeric), std::fabs(analytic)});
  if (!(std::fabs(numeric - analytic) <= threshold * scale) && ++bad <= 5)
    report << "\n  [" << i << "] analytic " << analytic << ", numeric " << numeric;
}
}  // namespace

::testing::AssertionResult check_gradient(std::vector<double>& x, const std::function<double()>& loss,
                                          const std::vector<double>& analytic, const std::string& what,
                                          const GradientCheckOptions& options) {
  if (analytic.size() != x.size())
    return ::testing::AssertionFailure() << what << ": gradient has " << analytic.size() << " elements, input "
                                         << x.size();
  std::ostringstream report;
  size_t bad = 0, checked = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (options.skip && options.skip(i)) continue;
    ++checked;
    check_one(x[i], loss, analytic[i], options.step, options.threshold, i, bad, report);
  }
  if (checked == 0) return ::testing::AssertionFailure() << what << ": every element was skipped";
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << checked
                                       << " gradient elements disagree with central differences" << report.str();
}

::testing::AssertionResult check_gradient_f32(std::vector<float>& x, const std::function<double()>& loss,
                                              const std::vector<float>& analytic, const std::string& what,
                                              const std::vector<size_t>& indices, double step, double threshold) {
  std::ostringstream report;
  size_t bad = 0;
  for (size_t i : indices) check_one(x.at(i), loss, analytic.at(i), step, threshold, i, bad, report);
  if (indices.empty()) return ::testing::AssertionFailure() << what << ": nothing to check";
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << indices.size()
                                       << " gradient elements disagree with central differences" << report.str();
}

std::string fashion_mnist_dir_or_empty() {
  std::string dir = resolve_fashion_mnist_dir("");
  std::error_code ec;
  bool present = std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz", ec) ||
                 std::filesystem::exists(dir + "/train-images-idx3-ubyte", ec);
  return present ? dir : std::string();
}

}  // namespace loom::test
