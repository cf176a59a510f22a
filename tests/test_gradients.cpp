// Gradient checks of every differentiable op's reference implementation, in double, against central differences.
// Each op is checked through a scalar loss L = Σ r ⊙ op(x) with random r (Caffe's approach), or the op's own loss.
#include <cmath>

#include <gtest/gtest.h>

#include "kernels/batch_norm.h"
#include "kernels/bias_activation.h"
#include "kernels/cross_entropy.h"
#include "kernels/dense.h"
#include "kernels/dropout.h"
#include "kernels/relu.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// Dense with an optional fused ReLU: y = act(x·w + b), checked with respect to x, w and b.
void check_dense(Activation act) {
  const int64_t n = 4, in = 6, out = 5;
  std::mt19937 rng(7);
  std::vector<double> x = random_doubles(n * in, rng), w = random_doubles(in * out, rng),
                      b = random_doubles(out, rng, -0.5, 0.5), r = random_doubles(n * out, rng);
  std::vector<double> y(n * out);
  auto forward = [&] {
    ref::matmul(x.data(), w.data(), y.data(), n, in, out);
    ref::bias_activation_forward(y.data(), b.data(), n, out, act);
  };
  auto loss = [&] {
    forward();
    return dot(y, r);
  };
  if (act == Activation::ReLU) {  // keep every pre-activation clear of the kink so differences never straddle it
    std::vector<double> z(n * out);
    ref::matmul(x.data(), w.data(), z.data(), n, in, out);
    for (int64_t k = 0; k < n * out; ++k) ASSERT_GT(std::fabs(z[k] + b[k % out]), 1e-4) << "resample: kink at " << k;
  }
  forward();
  std::vector<double> dz = r, dx(n * in), dw(in * out), db(out);
  ref::bias_activation_backward(y.data(), dz.data(), db.data(), n, out, act);
  ref::matmul_grad_weight(x.data(), dz.data(), dw.data(), n, in, out);
  ref::matmul_grad_input(dz.data(), w.data(), dx.data(), n, in, out);
  EXPECT_TRUE(check_gradient(x, loss, dx, "dense input"));
  EXPECT_TRUE(check_gradient(w, loss, dw, "dense kernel"));
  EXPECT_TRUE(check_gradient(b, loss, db, "dense bias"));
}

TEST(GradientCheck, DenseLinear) { check_dense(Activation::None); }
TEST(GradientCheck, DenseWithFusedRelu) { check_dense(Activation::ReLU); }

TEST(GradientCheck, Relu) {
  const int64_t n = 40;
  std::mt19937 rng(3);
  std::vector<double> x = random_doubles(n, rng), r = random_doubles(n, rng), y(n), dx(n);
  auto loss = [&] {
    ref::relu_forward(x.data(), y.data(), n);
    return dot(y, r);
  };
  loss();
  ref::relu_backward(y.data(), r.data(), dx.data(), n);
  GradientCheckOptions options;
  options.skip = [&](size_t i) { return std::fabs(x[i]) < 1e-3; };  // the kink at 0, as Caffe skips it
  EXPECT_TRUE(check_gradient(x, loss, dx, "relu input", options));
}

TEST(GradientCheck, Softmax) {
  const int64_t rows = 3, cols = 7;
  std::mt19937 rng(11);
  std::vector<double> x = random_doubles(rows * cols, rng, -3, 3), r = random_doubles(rows * cols, rng);
  std::vector<double> y(rows * cols), dx(rows * cols);
  auto loss = [&] {
    ref::softmax_forward(x.data(), y.data(), rows, cols);
    return dot(y, r);
  };
  loss();
  ref::softmax_backward(y.data(), r.data(), dx.data(), rows, cols);
  EXPECT_TRUE(check_gradient(x, loss, dx, "softmax input"));
}

// Mean cross-entropy of a batch, from logits (fused with softmax).
struct LogitsLoss {
  int64_t rows = 5, classes = 10;
  std::vector<double> logits;
  std::vector<int32_t> labels;
  std::vector<double> probs;
  LogitsLoss() {
    std::mt19937 rng(5);
    logits = random_doubles(rows * classes, rng, -2, 2);
    labels = random_labels(rows, static_cast<int>(classes), rng);
    for (int64_t r = 0; r < rows; ++r) logits[r * classes + (r % classes)] += 4.0;  // a confident row or two
    probs.resize(rows * classes);
  }
  double operator()() {
    double sum = 0;
    ref::softmax_cross_entropy<double>(logits.data(), labels.data(), probs.data(), nullptr, 0.0, &sum, nullptr, rows,
                                       classes);
    return sum / rows;
  }
  std::vector<double> gradient(double grad_scale) {
    std::vector<double> d(rows * classes);
    ref::softmax_cross_entropy<double>(logits.data(), labels.data(), probs.data(), d.data(), grad_scale, nullptr,
                                       nullptr, rows, classes);
    return d;
  }
};

TEST(GradientCheck, SoftmaxCrossEntropyFromLogits) {
  LogitsLoss loss;
  std::vector<double> analytic = loss.gradient(1.0 / loss.rows);
  EXPECT_TRUE(check_gradient(loss.logits, std::ref(loss), analytic, "softmax-CE logits"));
}

TEST(GradientCheck, CheckerRejectsGradientMissingTheBatchMean) {
  LogitsLoss loss;
  std::vector<double> wrong = loss.gradient(1.0);  // forgot the 1/batch of the mean
  EXPECT_FALSE(check_gradient(loss.logits, std::ref(loss), wrong, "planted wrong gradient"));
}

TEST(GradientCheck, CheckerRejectsOneWrongElement) {
  LogitsLoss loss;
  std::vector<double> wrong = loss.gradient(1.0 / loss.rows);
  wrong[7] += 1e-3;
  EXPECT_FALSE(check_gradient(loss.logits, std::ref(loss), wrong, "one element off by 1e-3"));
}

// Probabilities mode: the model's softmax output feeds cross-entropy on probabilities; the gradient reaches the
// logits through softmax_backward. Checked with respect to the probabilities themselves and to the logits.
TEST(GradientCheck, CrossEntropyOnProbabilities) {
  const int64_t rows = 4, classes = 6;
  std::mt19937 rng(9);
  std::vector<double> p = random_doubles(rows * classes, rng, 0.05, 0.9);
  std::vector<int32_t> labels = random_labels(rows, static_cast<int>(classes), rng);
  auto loss = [&] {
    double sum = 0;
    ref::cross_entropy_probabilities<double>(p.data(), labels.data(), nullptr, 0.0, &sum, nullptr, rows, classes);
    return sum / rows;
  };
  std::vector<double> dp(rows * classes);
  ref::cross_entropy_probabilities<double>(p.data(), labels.data(), dp.data(), 1.0 / rows, nullptr, nullptr, rows,
                                           classes);
  EXPECT_TRUE(check_gradient(p, loss, dp, "cross-entropy probabilities"));
}

TEST(GradientCheck, SoftmaxThenCrossEntropyOnProbabilities) {
  const int64_t rows = 4, classes = 6;
  std::mt19937 rng(13);
  std::vector<double> z = random_doubles(rows * classes, rng, -2, 2), p(rows * classes);
  std::vector<int32_t> labels = random_labels(rows, static_cast<int>(classes), rng);
  auto loss = [&] {
    double sum = 0;
    ref::softmax_forward(z.data(), p.data(), rows, classes);
    ref::cross_entropy_probabilities<double>(p.data(), labels.data(), nullptr, 0.0, &sum, nullptr, rows, classes);
    return sum / rows;
  };
  loss();
  std::vector<double> dp(rows * classes), dz(rows * classes);
  ref::cross_entropy_probabilities<double>(p.data(), labels.data(), dp.data(), 1.0 / rows, nullptr, nullptr, rows,
                                           classes);
  ref::softmax_backward(p.data(), dp.data(), dz.data(), rows, classes);
  EXPECT_TRUE(check_gradient(z, loss, dz, "softmax + cross-entropy on probabilities"));
  // And the fused op's gradient is the same function's gradient.
  std::vector<double> fused(rows * classes), scratch(rows * classes);
  ref::softmax_cross_entropy<double>(z.data(), labels.data(), scratch.data(), fused.data(), 1.0 / rows, nullptr,
                                     nullptr, rows, classes);
  for (size_t i = 0; i < fused.size(); ++i) EXPECT_NEAR(fused[i], dz[i], 1e-12) << "element " << i;
}

// Batch normalization in training mode: the batch's own statistics depend on x, so dx has the two extra terms
// (through the mean and the variance) that a check per element catches if either is missing. Checked for a Dense
// output (every row a sample) and an image batch (rows of pixels), with respect to x, gamma and beta.
void check_batch_norm(int64_t m, int64_t c, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<double> x = random_doubles(m * c, rng, -2, 3), gamma = random_doubles(c, rng, 0.5, 1.5),
                      beta = random_doubles(c, rng), r = random_doubles(m * c, rng);
  std::vector<double> y(m * c), moving_mean(c, 0.0), moving_var(c, 1.0), mean(c), inv_std(c);
  const BatchNormSettings settings;
  auto loss = [&] {
    ref::batch_norm_forward_training(x.data(), gamma.data(), beta.data(), y.data(), moving_mean.data(),
                                     moving_var.data(), mean.data(), inv_std.data(), m, c, settings);
    return dot(y, r);
  };
  loss();
  std::vector<double> dx(m * c), dgamma(c), dbeta(c);
  ref::batch_norm_backward(x.data(), gamma.data(), mean.data(), inv_std.data(), r.data(), dx.data(), dgamma.data(),
                           dbeta.data(), m, c);
  EXPECT_TRUE(check_gradient(x, loss, dx, "batch norm input"));
  EXPECT_TRUE(check_gradient(gamma, loss, dgamma, "batch norm gamma"));
  EXPECT_TRUE(check_gradient(beta, loss, dbeta, "batch norm beta"));
}

TEST(GradientCheck, BatchNormOverDenseFeatures) { check_batch_norm(6, 5, 31); }
TEST(GradientCheck, BatchNormOverImageChannels) { check_batch_norm(2 * 3 * 3, 17, 32); }  // 17: a partial block

// A gradient that leaves out the mean's path (dx = γ·inv_std·dy, as if the statistics were constants) is rejected.
TEST(GradientCheck, CheckerRejectsBatchNormWithoutTheStatisticsPath) {
  const int64_t m = 5, c = 3;
  std::mt19937 rng(33);
  std::vector<double> x = random_doubles(m * c, rng, -2, 3), r = random_doubles(m * c, rng);
  std::vector<double> gamma(c, 1.0), beta(c, 0.0);
  std::vector<double> y(m * c), moving_mean(c, 0.0), moving_var(c, 1.0), mean(c), inv_std(c);
  auto loss = [&] {
    ref::batch_norm_forward_training(x.data(), gamma.data(), beta.data(), y.data(), moving_mean.data(),
                                     moving_var.data(), mean.data(), inv_std.data(), m, c, BatchNormSettings{});
    return dot(y, r);
  };
  loss();
  std::vector<double> wrong(m * c);
  for (int64_t i = 0; i < m * c; ++i) wrong[i] = gamma[i % c] * inv_std[i % c] * r[i];
  EXPECT_FALSE(check_gradient(x, loss, wrong, "batch norm without the statistics' gradient"));
}

// Dropout is linear in x for a fixed mask (the step and key fix it), so its gradient is the mask scaled.
TEST(GradientCheck, Dropout) {
  const int64_t n = 50;
  std::mt19937 rng(34);
  std::vector<double> x = random_doubles(n, rng), r = random_doubles(n, rng), y(n), dx(n);
  const PhiloxKey key = philox_key(5, kFirstLayerStream);
  auto loss = [&] {
    ref::dropout(x.data(), y.data(), n, 0.4f, key, 7);
    return dot(y, r);
  };
  ref::dropout(r.data(), dx.data(), n, 0.4f, key, 7);
  EXPECT_TRUE(check_gradient(x, loss, dx, "dropout input"));
}

}  // namespace
}  // namespace loom::test
