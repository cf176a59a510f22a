// The CPU path (OpenBLAS products, the references split across the CPU pool's threads) against the float references,
// on several thread counts: element-wise ops, pooling and the bias gradient must give the reference's values exactly
// (the split never reorders a sum), the products its values within rounding and the same bits on every count. Also:
// where the thread count comes from, and that a training step on the CPU allocates nothing.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

#include "engine/model/models.h"
#include "engine/runtime/cpu_pool.h"
#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/errors.h"
#include "engine/runtime/host_scratch.h"
#include "engine/training/trainer.h"
#include "kernels/adam.h"
#include "kernels/bias_activation.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dense.h"
#include "kernels/max_pool2d.h"
#include "kernels/relu.h"
#include "kernels/sgd.h"
#include "tests/allocation_counter.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// The thread counts every op is run on: one, the machine's two, and counts that split sizes unevenly.
constexpr int kThreadCounts[] = {1, 2, 3, 7};

// Equal element for element as floats compare (so +0 == -0), NaN where the reference has NaN.
::testing::AssertionResult same_values(const std::vector<float>& actual, const std::vector<float>& expected,
                                       const std::string& what) {
  if (actual.size() != expected.size())
    return ::testing::AssertionFailure() << what << ": " << actual.size() << " values, expected " << expected.size();
  for (size_t i = 0; i < actual.size(); ++i) {
    const bool both_nan = std::isnan(actual[i]) && std::isnan(expected[i]);
    if (!both_nan && !(actual[i] == expected[i]))
      return ::testing::AssertionFailure()
             << what << ": element " << i << " is " << actual[i] << ", the reference " << expected[i];
  }
  return ::testing::AssertionSuccess();
}

TEST(CpuThreads, TheFlagThenOmpNumThreadsThenOpenBlasNumThreadsThenTheCores) {
  ScopedEnv omp("OMP_NUM_THREADS", nullptr), blas("OPENBLAS_NUM_THREADS", nullptr);
  CpuThreadChoice choice = default_cpu_threads();
  EXPECT_EQ(choice.threads, usable_cores());
  EXPECT_EQ(choice.source, "cores");
  {
    ScopedEnv set_blas("OPENBLAS_NUM_THREADS", "3");
    choice = default_cpu_threads();
    EXPECT_EQ(choice.threads, 3);
    EXPECT_EQ(choice.source, "$OPENBLAS_NUM_THREADS");
    ScopedEnv set_omp("OMP_NUM_THREADS", " 5 ,2");  // one count per nesting level, blanks allowed: 5 is ours
    choice = default_cpu_threads();
    EXPECT_EQ(choice.threads, 5);
    EXPECT_EQ(choice.source, "$OMP_NUM_THREADS");
  }
  ScopedEnv empty("OMP_NUM_THREADS", "");  // set but empty counts as unset
  EXPECT_EQ(default_cpu_threads().source, "cores");
}

TEST(CpuThreads, ABadVariableIsRefusedNamingItAndQuotingIt) {
  ScopedEnv blas("OPENBLAS_NUM_THREADS", nullptr);
  for (const char* bad : {"0", "-2", "two", "4x", "4 4", "1025", "99999999999", ",3", " "}) {
    ScopedEnv omp("OMP_NUM_THREADS", bad);
    expect_one_line_error<UsageError>([] { default_cpu_threads(); },
                                      {"$OMP_NUM_THREADS", "from 1 to 1024", "'" + std::string(bad) + "'"});
  }
  ScopedEnv omp("OMP_NUM_THREADS", nullptr);
  ScopedEnv bad_blas("OPENBLAS_NUM_THREADS", "many");
  expect_one_line_error<UsageError>([] { default_cpu_threads(); }, {"$OPENBLAS_NUM_THREADS", "'many'"});
  EXPECT_THROW(set_cpu_threads(0), UsageError);
  EXPECT_THROW(set_cpu_threads(kMaxCpuThreads + 1), UsageError);
}

// A bad $OMP_NUM_THREADS is taken out of the process's environment array before OpenMP's runtime would read it (and
// print its own complaint), and refused by loom in its words all the same; a good one, or none, stays where it is.
TEST(CpuThreads, ABadOmpNumThreadsIsTakenOutOfTheEnvironmentAndStillRefused) {
  char path[] = "PATH=/bin", bad[] = "OMP_NUM_THREADS=lots", good[] = "OMP_NUM_THREADS=4,2", home[] = "HOME=/root";
  char* environment[] = {path, bad, home, nullptr};
  EXPECT_STREQ(take_invalid_omp_num_threads(environment), "lots");
  EXPECT_EQ(environment[0], path);
  EXPECT_EQ(environment[1], home);
  EXPECT_EQ(environment[2], nullptr);
  char* fine[] = {path, good, nullptr};
  EXPECT_EQ(take_invalid_omp_num_threads(fine), nullptr);
  EXPECT_EQ(fine[1], good);
  char* none[] = {path, nullptr};
  EXPECT_EQ(take_invalid_omp_num_threads(none), nullptr);
  EXPECT_EQ(take_invalid_omp_num_threads(nullptr), nullptr);

  ScopedEnv omp("OMP_NUM_THREADS", nullptr), blas("OPENBLAS_NUM_THREADS", nullptr);
  {
    struct Refusing {  // handed back even when a check below fails, so later tests see the real environment
      Refusing() { refuse_omp_num_threads("lots"); }
      ~Refusing() { refuse_omp_num_threads(nullptr); }
    } refusing;
    expect_one_line_error<UsageError>(
        [] { default_cpu_threads(); },
        {"$OMP_NUM_THREADS must be a whole number of threads from 1 to 1024, got 'lots'"});
  }
  EXPECT_EQ(default_cpu_threads().source, "cores");
}

// One pool for loops and products: loom splits products itself and runs each part on one thread of its pool.
// OpenBLAS's OpenMP build sizes a product by the calling thread's OpenMP count, which loom holds at one for the call
// on that thread alone. cmake/openblas.cmake refuses any other build; this is the property it checks, seen from a test.
TEST(CpuThreads, OpenBlasIsTheOpenMpBuild) { EXPECT_EQ(openblas_get_parallel(), OPENBLAS_OPENMP); }

// A product large enough to be split (8 M multiply-adds and more, kernels/dense_cpu.cpp) runs on the pool when it
// has more than one thread, and never changes the calling thread's own OpenMP count.
TEST(CpuThreads, SetTheCountOpsAndOpenBlasRunOn) {
  const int64_t side = 256;
  std::vector<float> a(side * side, 1.0f), b(side * side, 1.0f), c(side * side);
  const int openmp_threads = omp_get_max_threads();
  for (int threads : {1, 3, 2}) {
    ScopedCpuThreads count(threads);
    EXPECT_EQ(cpu_threads(), threads);
    const int64_t jobs = cpu::pool_counters().jobs;
    cpu::matmul(a.data(), b.data(), c.data(), side, side, side);
    EXPECT_EQ(c[0], static_cast<float>(side));
    if (threads == 1) {
      EXPECT_EQ(cpu::pool_counters().jobs, jobs);
    } else {
      EXPECT_GT(cpu::pool_counters().jobs, jobs);
    }
    EXPECT_EQ(omp_get_max_threads(), openmp_threads);
  }
}

TEST(CpuPath, ElementwiseOpsGiveTheReferenceValuesOnAnyThreadCount) {
  // 3001 rows of 37: large enough to be split, in parts that do not line up with rows or vectors.
  const int64_t rows = 3001, cols = 37, n = rows * cols;
  std::mt19937 rng(11);
  const auto x = random_floats(n, rng), dy = random_floats(n, rng), bias = random_floats(cols, rng);
  for (int threads : kThreadCounts) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ScopedCpuThreads count(threads);
    std::vector<float> want(n), want_dx(n), want_db(cols);
    ref::relu_forward(x.data(), want.data(), n);
    Tensor tx = make_tensor(x, {rows, cols}, Device::CPU), ty = poisoned({rows, cols}, Device::CPU);
    relu_forward(tx, ty);
    EXPECT_TRUE(same_values(ty.to_vector(), want, "relu"));
    ref::relu_backward(x.data(), dy.data(), want_dx.data(), n);
    Tensor tdy = make_tensor(dy, {rows, cols}, Device::CPU), tdx = poisoned({rows, cols}, Device::CPU);
    relu_backward(tx, tdy, tdx);
    EXPECT_TRUE(same_values(tdx.to_vector(), want_dx, "relu gradient"));

    for (Activation act : {Activation::None, Activation::ReLU}) {
      SCOPED_TRACE(activation_name(act));
      std::vector<float> y = x, dz = dy;
      ref::bias_activation_forward(y.data(), bias.data(), rows, cols, act);
      Tensor t = make_tensor(x, {rows, cols}, Device::CPU), tb = make_tensor(bias, {cols}, Device::CPU);
      bias_activation_forward(t, tb, act);
      EXPECT_TRUE(same_values(t.to_vector(), y, "bias and activation"));
      ref::bias_activation_backward(y.data(), dz.data(), want_db.data(), rows, cols, act);
      Tensor grad = make_tensor(dy, {rows, cols}, Device::CPU), db = poisoned({cols}, Device::CPU);
      bias_activation_backward(t, grad, db, act);
      EXPECT_TRUE(same_values(grad.to_vector(), dz, "pre-activation gradient"));
      EXPECT_TRUE(same_values(db.to_vector(), want_db, "bias gradient"));  // each column summed in row order
    }

    // Three Adam steps and an SGD step over the flat buffer, from the same start as the reference.
    const AdamHyper hyper;
    std::vector<float> p = x, m(n, 0.0f), v(n, 0.0f), schedule = {0.0f, 0.0f};
    Tensor tp = make_tensor(x, {n}, Device::CPU), tg = make_tensor(dy, {n}, Device::CPU),
           tm = make_tensor(m, {n}, Device::CPU), tv = make_tensor(v, {n}, Device::CPU),
           ts = make_tensor(schedule, {2}, Device::CPU), lr = make_tensor({1e-3f}, {1}, Device::CPU);
    for (int step = 0; step < 3; ++step) {
      ref::adam_advance(schedule.data(), 1e-3f, hyper);
      ref::adam_update(p.data(), dy.data(), m.data(), v.data(), schedule.data(), hyper, n);
      adam_advance(ts, lr, hyper);
      adam_update(tp, tg, tm, tv, ts, hyper);
    }
    EXPECT_TRUE(same_values(tp.to_vector(), p, "Adam's parameters"));
    EXPECT_TRUE(same_values(tv.to_vector(), v, "Adam's second moments"));
    ref::sgd_update(p.data(), dy.data(), 0.01f, n);
    Tensor rate = make_tensor({0.01f}, {1}, Device::CPU);
    sgd_update(tp, tg, rate);
    EXPECT_TRUE(same_values(tp.to_vector(), p, "SGD's parameters"));
  }
}

// Values drawn from {-1, 0, 1} so windows tie, with NaNs and negative zeros among them: the CPU path must pick the
// reference's maximum (the first of a tie; a NaN keeps its window) and send the gradient to the same pixel.
TEST(CpuPath, PoolingPicksTheReferencesMaximumThroughTiesAndNaNs) {
  struct PoolCase {
    int64_t h, w, c, pool_h, pool_w, stride_h, stride_w;
  };
  const PoolCase cases[] = {
      {26, 26, 64, 2, 2, 2, 2},  // the CNN's first pooling
      {11, 11, 70, 2, 2, 2, 2},  // an edge the floor drops; channels beyond one block of 64
      {9, 10, 3, 3, 2, 3, 3},    // 3×2 windows, a gap between columns
      {6, 9, 5, 1, 2, 1, 3},     // a stride wider than the window
      {9, 10, 4, 2, 3, 2, 1},    // overlapping: the reference, slice by slice
  };
  for (const PoolCase& p : cases)
    for (int threads : kThreadCounts) {
      SCOPED_TRACE("pool " + std::to_string(p.h) + "x" + std::to_string(p.w) + "x" + std::to_string(p.c) + " window " +
                   std::to_string(p.pool_h) + "x" + std::to_string(p.pool_w) + " strides (" +
                   std::to_string(p.stride_h) + ", " + std::to_string(p.stride_w) + "), " + std::to_string(threads) +
                   " threads");
      ScopedCpuThreads count(threads);
      // Enough images that every case is split between threads (kernels/cpu_parallel.h's kMinWorkPerChunk).
      const int64_t n = std::max<int64_t>(13, 4 * cpu::kMinWorkPerChunk / (p.h * p.w * p.c) + 1);
      MaxPool2dGeometry g{n, p.h, p.w, p.c, p.pool_h, p.pool_w, p.stride_h, p.stride_w};
      std::mt19937 rng(static_cast<unsigned>(p.h * 31 + p.c));
      std::uniform_int_distribution<int> pick(0, 40);
      std::vector<float> x(n * p.h * p.w * p.c);
      for (float& value : x) {
        const int r = pick(rng);
        value = r == 0 ? std::numeric_limits<float>::quiet_NaN() : r == 1 ? -0.0f : static_cast<float>(r % 3 - 1);
      }
      const auto dy = random_floats(n * g.out_height() * g.out_width() * p.c, rng);
      std::vector<float> want_y(dy.size()), want_dx(x.size());
      ref::max_pool2d_forward(x.data(), want_y.data(), g);
      ref::max_pool2d_backward(x.data(), dy.data(), want_dx.data(), g);
      Tensor tx = make_tensor(x, {n, p.h, p.w, p.c}, Device::CPU),
             ty = poisoned({n, g.out_height(), g.out_width(), p.c}, Device::CPU),
             tdy = make_tensor(dy, {n, g.out_height(), g.out_width(), p.c}, Device::CPU),
             tdx = poisoned({n, p.h, p.w, p.c}, Device::CPU);
      max_pool2d_forward(tx, ty, p.pool_h, p.pool_w, p.stride_h, p.stride_w, nullptr);
      max_pool2d_backward(tx, ty, tdy, tdx, p.pool_h, p.pool_w, p.stride_h, p.stride_w, nullptr);
      const auto y = ty.to_vector();
      EXPECT_TRUE(same_values(y, want_y, "pooled output"));
      EXPECT_EQ(std::memcmp(y.data(), want_y.data(), y.size() * sizeof(float)), 0) << "not bit for bit";
      EXPECT_TRUE(same_values(tdx.to_vector(), want_dx, "pooling input gradient"));
    }
}

// The products at the tutorial models' own sizes (and a partial batch), against the float reference.
TEST(CpuPath, ProductsMatchTheReferenceAtTheModelsSizes) {
  struct DenseCase {
    int64_t n, in, out;
  };
  // The last two are large enough (8 M multiply-adds) to be split between threads, by columns and, for the 10-way
  // output, by rows (its weight gradient by columns of x); the tutorials' are not. Every thread count gives the first
  // count's bits.
  for (const DenseCase& d : {DenseCase{32, 784, 128}, DenseCase{17, 1600, 128}, DenseCase{32, 128, 10},
                             DenseCase{96, 512, 256}, DenseCase{10000, 128, 10}}) {
    std::vector<float> first_bits;
    for (int threads : kThreadCounts) {
      SCOPED_TRACE("dense " + std::to_string(d.n) + "x" + std::to_string(d.in) + " -> " + std::to_string(d.out) + ", " +
                   std::to_string(threads) + " threads");
      ScopedCpuThreads count(threads);
      std::mt19937 rng(static_cast<unsigned>(d.in + d.n));
      const auto x = random_floats(d.n * d.in, rng), w = random_floats(d.in * d.out, rng),
                 dz = random_floats(d.n * d.out, rng);
      std::vector<float> y(d.n * d.out, NAN), dw(d.in * d.out, NAN), dx(d.n * d.in, NAN);
      std::vector<double> want_y(y.size()), want_dw(dw.size()), want_dx(dx.size());
      cpu::matmul(x.data(), w.data(), y.data(), d.n, d.in, d.out);
      cpu::matmul_grad_weight(x.data(), dz.data(), dw.data(), d.n, d.in, d.out);
      cpu::matmul_grad_input(dz.data(), w.data(), dx.data(), d.n, d.in, d.out);
      const auto xd = to_double(x), wd = to_double(w), dzd = to_double(dz);
      ref::matmul(xd.data(), wd.data(), want_y.data(), d.n, d.in, d.out);
      ref::matmul_grad_weight(xd.data(), dzd.data(), want_dw.data(), d.n, d.in, d.out);
      ref::matmul_grad_input(dzd.data(), wd.data(), want_dx.data(), d.n, d.in, d.out);
      // Sums of up to 1,600 products of values in [-1, 1], in float.
      EXPECT_TRUE(all_close(y, want_y, 1e-4, 1e-4, "x·w"));
      EXPECT_TRUE(all_close(dw, want_dw, 1e-4, 1e-4, "xᵀ·dz"));
      EXPECT_TRUE(all_close(dx, want_dx, 1e-4, 1e-4, "dz·wᵀ"));
      std::vector<float> bits = y;
      bits.insert(bits.end(), dw.begin(), dw.end());
      bits.insert(bits.end(), dx.begin(), dx.end());
      if (first_bits.empty()) first_bits = bits;
      EXPECT_EQ(std::memcmp(bits.data(), first_bits.data(), bits.size() * sizeof(float)), 0) << "not bit for bit";
    }
  }

  // The CNN's two convolutions at batch 32, and a padded one at a batch that splits unevenly.
  const Conv2dGeometry convolutions[] = {
      {32, 28, 28, 1, 64, 3, 3, 0, 0}, {32, 13, 13, 64, 64, 3, 3, 0, 0}, {77, 9, 7, 3, 4, 3, 3, 1, 1}};
  for (const Conv2dGeometry& g : convolutions) {
    std::vector<float> first_bits;
    for (int threads : kThreadCounts) {
      SCOPED_TRACE("conv " + std::to_string(g.height) + "x" + std::to_string(g.width) + "x" +
                   std::to_string(g.in_channels) + " -> " + std::to_string(g.out_channels) + ", batch " +
                   std::to_string(g.batch) + ", " + std::to_string(threads) + " threads");
      ScopedCpuThreads count(threads);
      std::mt19937 rng(static_cast<unsigned>(g.in_channels + g.batch));
      const int64_t out = g.batch * g.out_height() * g.out_width() * g.out_channels;
      const auto x = random_floats(g.batch * g.height * g.width * g.in_channels, rng),
                 w = random_floats(g.out_channels * g.kernel_h * g.kernel_w * g.in_channels, rng),
                 dy = random_floats(out, rng);
      std::vector<float> y(out, NAN), dw(w.size(), NAN), dx(x.size(), NAN);
      std::vector<double> want_y(y.size()), want_dw(dw.size()), want_dx(dx.size());
      cpu::conv2d_forward(x.data(), w.data(), y.data(), g);
      cpu::conv2d_backward_filter(x.data(), dy.data(), dw.data(), g);
      cpu::conv2d_backward_data(dy.data(), w.data(), dx.data(), g);
      const auto xd = to_double(x), wd = to_double(w), dyd = to_double(dy);
      ref::conv2d_forward(xd.data(), wd.data(), want_y.data(), g);
      ref::conv2d_backward_filter(xd.data(), dyd.data(), want_dw.data(), g);
      ref::conv2d_backward_data(dyd.data(), wd.data(), want_dx.data(), g);
      // Forward and input-gradient sums have up to 576 terms; the kernel gradient's up to 21,632.
      EXPECT_TRUE(all_close(y, want_y, 1e-4, 1e-4, "convolution"));
      EXPECT_TRUE(all_close(dx, want_dx, 1e-4, 1e-4, "convolution input gradient"));
      EXPECT_TRUE(all_close(dw, want_dw, 1e-3, 1e-3, "convolution kernel gradient"));
      std::vector<float> bits = y;
      bits.insert(bits.end(), dw.begin(), dw.end());
      bits.insert(bits.end(), dx.begin(), dx.end());
      if (first_bits.empty()) first_bits = bits;
      EXPECT_EQ(std::memcmp(bits.data(), first_bits.data(), bits.size() * sizeof(float)), 0) << "not bit for bit";
    }
  }
}

TEST(CpuPath, SizesBeyondBlas32BitIntegersAreRefused) {
  const int64_t too_big = int64_t{1} << 31;
  float one = 1.0f;
  expect_one_line_error<Error>([&] { cpu::matmul(&one, &one, &one, too_big, 1, 1); },
                               {"matmul", "2147483648", "32-bit"});
}

// A training run gives the same bits on any thread count: a small CNN's parameters after three steps.
TEST(CpuPath, TrainingGivesTheSameBitsOnAnyThreadCount) {
  std::vector<float> first;
  for (int threads : kThreadCounts) {
    SCOPED_TRACE(std::to_string(threads) + " threads");
    ScopedCpuThreads count(threads);
    auto model = make_cnn(8, 16, Device::CPU, 7, AdamHyper{});
    Trainer trainer(*model);
    const Batch batch = random_batch(32, kCnnInputShape, kFashionMnistClasses, 5, Device::CPU);
    for (int step = 0; step < 3; ++step) trainer.train_step(batch.x, batch.labels);
    const std::vector<float> parameters = model->parameters().to_vector();
    if (first.empty()) first = parameters;
    ASSERT_EQ(parameters.size(), first.size());
    EXPECT_EQ(std::memcmp(parameters.data(), first.data(), first.size() * sizeof(float)), 0) << "not bit for bit";
  }
}

// A model prepared for a batch size has the convolutions' scratch already, and a training step on the CPU then
// allocates nothing at all: no operator new (tests/allocation_counter.h), and no growth of the scratch.
TEST(CpuPath, ATrainingStepAllocatesNothing) {
#ifndef LOOM_COUNTS_ALLOCATIONS
  GTEST_SKIP() << "a sanitized build keeps AddressSanitizer's operator new, so allocations are not counted";
#else
  auto model = make_cnn(8, 16, Device::CPU, 1, AdamHyper{});
  Trainer trainer(*model);
  const Batch batch = random_batch(32, kCnnInputShape, kFashionMnistClasses, 3, Device::CPU);
  trainer.train_step(batch.x, batch.labels);  // the first step makes the batch's views: allocation is allowed there
  const int64_t scratch = host_scratch_floats();
  EXPECT_GE(scratch, cpu::conv2d_scratch_floats({32, 13, 13, 8, 8, 3, 3, 0, 0}));
  const int64_t before = operator_new_calls();
  for (int step = 0; step < 3; ++step) trainer.train_step(batch.x, batch.labels);
  EXPECT_EQ(operator_new_calls() - before, 0) << "operator new calls in three CPU training steps";
  EXPECT_EQ(host_scratch_floats(), scratch);
  // The counter does count (an explicit call, which no compiler may leave out as it may an unused vector).
  const int64_t counted = operator_new_calls();
  ::operator delete(::operator new(16));
  EXPECT_EQ(operator_new_calls() - counted, 1);
#endif
}

}  // namespace
}  // namespace loom::test
