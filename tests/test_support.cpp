#include "tests/test_support.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "engine/data/fashion_mnist.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/dense.h"
#include "engine/layers/flatten.h"
#include "engine/layers/max_pool2d.h"
#include "engine/runtime/cpu_threads.h"

namespace loom::test {

ScopedCpuThreads::ScopedCpuThreads(int threads) : saved_(cpu_threads()) { set_cpu_threads(threads); }
ScopedCpuThreads::~ScopedCpuThreads() { set_cpu_threads(saved_); }

bool cuda_required() {
  const char* value = std::getenv("LOOM_REQUIRE_CUDA");
  return value && std::string(value) == "1";
}

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
  Tensor host =
      Tensor::wrap(const_cast<int32_t*>(labels.data()), {static_cast<int64_t>(labels.size())}, Device::CPU, DType::I32);
  return host.to(device);
}

Tensor poisoned(const Shape& shape, Device device) {
  Tensor t(shape, device);
  t.fill(std::nanf(""));
  return t;
}

::testing::AssertionResult all_close(const std::vector<float>& actual, const std::vector<double>& expected, double atol,
                                     double rtol, const std::string& what) {
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
  return ::testing::AssertionFailure() << what << ": " << bad << " of " << actual.size() << " elements outside atol "
                                       << atol << " + rtol " << rtol << report.str();
}

namespace {
template <class T>
void check_one(T& xi, const std::function<double()>& loss, double analytic, double step, double threshold, size_t i,
               size_t& bad, std::ostringstream& report) {
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

Batch random_batch(int64_t n, const Shape& input, int classes, unsigned seed, Device device) {
  std::mt19937 rng(seed);
  Shape s{n};
  s.insert(s.end(), input.begin(), input.end());
  return {make_tensor(random_floats(static_cast<size_t>(shape_numel(s)), rng, 0.f, 1.f), s, device),
          make_labels(random_labels(n, classes, rng), device)};
}

void train_side_by_side(Trainer& cpu, Trainer& gpu, const Shape& input, int classes,
                        const std::vector<int64_t>& batch_sizes, int rounds, unsigned seed) {
  for (int round = 0; round < rounds; ++round)
    for (int64_t n : batch_sizes) {
      Batch b = random_batch(n, input, classes, seed + static_cast<unsigned>(round * 1000 + n), Device::CPU);
      cpu.train_step(b.x, b.labels);
      gpu.train_step(b.x.to(Device::CUDA), b.labels.to(Device::CUDA));
    }
}

GraphComparison fit_with_and_without_graph(const std::function<std::unique_ptr<Sequential>()>& make_model,
                                           const LabeledImages& data, int epochs) {
  GraphComparison run;
  run.eager = make_model();
  run.graphed = make_model();
  run.eager_trainer = std::make_unique<Trainer>(*run.eager);
  run.graph_trainer = std::make_unique<Trainer>(*run.graphed);
  FitOptions options;
  options.epochs = epochs;
  options.verbose = 0;
  options.cuda_graph = false;
  run.eager_history = run.eager_trainer->fit(data, options);
  options.cuda_graph = true;
  run.graph_history = run.graph_trainer->fit(data, options);
  return run;
}

LabeledImages random_labeled_images(int64_t n, const Shape& sample, int classes, unsigned seed) {
  std::mt19937 rng(seed);
  Shape shape{n};
  shape.insert(shape.end(), sample.begin(), sample.end());
  LabeledImages data{Tensor(shape, Device::CPU, DType::U8), Tensor({n}, Device::CPU, DType::U8)};
  for (int64_t i = 0; i < data.images.numel(); ++i) data.images.data<uint8_t>()[i] = static_cast<uint8_t>(rng());
  for (int64_t i = 0; i < n; ++i) data.labels.data<uint8_t>()[i] = static_cast<uint8_t>(rng() % classes);
  return data;
}

std::unique_ptr<Sequential> small_cnn(Device device, uint64_t seed) {
  auto model = std::make_unique<Sequential>();
  model->add<Conv2D>(3, 3, Padding::Same, Activation::ReLU);
  model->add<MaxPool2D>(2);
  model->add<Conv2D>(2, 3, Padding::Valid, Activation::None);
  model->add<Flatten>();
  model->add<Dense>(4, Activation::Softmax);
  model->build({7, 7, 2}, device, seed);
  model->compile(std::make_unique<SGD>(0.05f), SparseCategoricalCrossentropy{false});
  return model;
}

std::string fashion_mnist_dir_or_empty() {
  std::string dir = resolve_fashion_mnist_dir("");
  std::error_code ec;
  bool present = std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz", ec) ||
                 std::filesystem::exists(dir + "/train-images-idx3-ubyte", ec);
  return present ? dir : std::string();
}

void TempDirTest::SetUp() {
  std::string pattern = (std::filesystem::path(::testing::TempDir()) / "loom_test_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp failed for " << pattern;
  dir_ = pattern;
}

void TempDirTest::TearDown() {
  std::error_code ignored;
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ignored);
  std::filesystem::remove_all(dir_, ignored);
}

std::string TempDirTest::path(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }

size_t count_of(const std::string& text, const std::string& part) {
  size_t count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++count;
  return count;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace loom::test
