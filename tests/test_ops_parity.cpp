// Every op on every device against the double-precision reference: on the CPU this checks the float reference, on
// CUDA the kernels (skipped, with the reason, when there is no GPU). Outputs start as NaN so an unwritten element
// fails; each tolerance sits next to the tensor it checks.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "engine/runtime/cuda_context.h"
#include "kernels/adam.h"
#include "kernels/batch_norm.h"
#include "kernels/bias_activation.h"
#include "kernels/conv2d.h"
#include "kernels/cross_entropy.h"
#include "kernels/dense.h"
#include "kernels/dropout.h"
#include "kernels/gather_batch.h"
#include "kernels/relu.h"
#include "kernels/sgd.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/step_state.h"
#include "kernels/totals.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

template <class Tag>
class OpParity : public DeviceTest<Tag> {};
TYPED_TEST_SUITE(OpParity, AllDevices, DeviceNames);

TYPED_TEST(OpParity, DenseForwardAndBackward) {
  const Device dev = TestFixture::device;
  for (Activation act : {Activation::None, Activation::ReLU})
    for (int64_t n : {1, 17, 32}) {
      SCOPED_TRACE(std::string(activation_name(act)) + ", batch " + std::to_string(n));
      const int64_t in = 70, out = 33;
      std::mt19937 rng(static_cast<unsigned>(n * 31 + static_cast<int>(act)));
      auto x = random_floats(n * in, rng), w = random_floats(in * out, rng), b = random_floats(out, rng),
           dy = random_floats(n * out, rng);
      Tensor tx = make_tensor(x, {n, in}, dev), tw = make_tensor(w, {in, out}, dev), tb = make_tensor(b, {out}, dev);
      Tensor ty = poisoned({n, out}, dev);
      dense_forward(tx, tw, tb, ty, act);

      auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dzd = to_double(dy);
      std::vector<double> yd(n * out), dxd(n * in), dwd(in * out), dbd(out);
      ref::matmul(xd.data(), wd.data(), yd.data(), n, in, out);
      ref::bias_activation_forward(yd.data(), bd.data(), n, out, act);
      EXPECT_TRUE(all_close(ty.to_vector(), yd, 1e-5, 1e-4, "dense output"));  // 70-term float sums

      Tensor tdy = make_tensor(dy, {n, out}, dev), tdx = poisoned({n, in}, dev), tdw = poisoned({in, out}, dev),
             tdb = poisoned({out}, dev);
      // The backward pass masks with the device's own forward output, as in training.
      dense_backward(tx, tw, ty, tdy, act, &tdx, tdw, tdb);
      ref::bias_activation_backward(yd.data(), dzd.data(), dbd.data(), n, out, act);
      ref::matmul_grad_weight(xd.data(), dzd.data(), dwd.data(), n, in, out);
      ref::matmul_grad_input(dzd.data(), wd.data(), dxd.data(), n, in, out);
      EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 1e-5, 1e-4, "dense input gradient"));   // 33-term sums
      EXPECT_TRUE(all_close(tdw.to_vector(), dwd, 1e-5, 1e-4, "dense kernel gradient"));  // n-term sums
      EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-5, 1e-4, "dense bias gradient"));
    }
}

TYPED_TEST(OpParity, Relu) {
  const Device dev = TestFixture::device;
  const int64_t n = 1000;
  std::mt19937 rng(1);
  auto x = random_floats(n, rng), dy = random_floats(n, rng);
  Tensor tx = make_tensor(x, {n}, dev), ty = poisoned({n}, dev);
  relu_forward(tx, ty);
  std::vector<double> xd = to_double(x), yd(n), dyd = to_double(dy), dxd(n);
  ref::relu_forward(xd.data(), yd.data(), n);
  EXPECT_TRUE(all_close(ty.to_vector(), yd, 0, 0, "relu output"));  // exact: a select
  Tensor tdy = make_tensor(dy, {n}, dev), tdx = poisoned({n}, dev);
  relu_backward(ty, tdy, tdx);
  ref::relu_backward(yd.data(), dyd.data(), dxd.data(), n);
  EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 0, 0, "relu input gradient"));
}

TYPED_TEST(OpParity, SoftmaxForwardAndBackward) {
  const Device dev = TestFixture::device;
  for (int64_t cols : {10, 45}) {  // fewer and more columns than a warp has lanes
    const int64_t rows = 19;
    std::mt19937 rng(static_cast<unsigned>(cols));
    auto x = random_floats(rows * cols, rng, -4, 4), dy = random_floats(rows * cols, rng);
    for (int64_t r = 0; r < rows; r += 3) x[r * cols + r % cols] += 8.f;  // peaked rows
    Tensor tx = make_tensor(x, {rows, cols}, dev), ty = poisoned({rows, cols}, dev);
    softmax_forward(tx, ty);
    std::vector<double> xd = to_double(x), yd(rows * cols), dyd = to_double(dy), dxd(rows * cols);
    ref::softmax_forward(xd.data(), yd.data(), rows, cols);
    EXPECT_TRUE(all_close(ty.to_vector(), yd, 1e-7, 1e-5, "softmax output"));
    Tensor tdy = make_tensor(dy, {rows, cols}, dev), tdx = poisoned({rows, cols}, dev);
    softmax_backward(ty, tdy, tdx);
    ref::softmax_backward(yd.data(), dyd.data(), dxd.data(), rows, cols);
    EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 1e-6, 1e-4, "softmax input gradient"));
  }
}

// Scores and labels for the loss ops. The CUDA loss kernels read a row with one warp, lanes striding over the
// columns, so more than 32 classes is another path: there half the labels lie beyond column 32, and the peaked rows
// put the row's maximum (and so the argmax that decides accuracy) on both sides of it.
struct LossRows {
  std::vector<float> scores;
  std::vector<int32_t> labels;
};

LossRows loss_rows(int64_t rows, int64_t classes, std::mt19937& rng) {
  constexpr int64_t kLanes = 32;
  LossRows out{random_floats(rows * classes, rng, -3, 3), random_labels(rows, static_cast<int>(classes), rng)};
  for (int64_t r = 0; r < rows; ++r) {
    if (classes > kLanes && r % 2 == 0)
      out.labels[r] = static_cast<int32_t>(kLanes + static_cast<int64_t>(rng() % (classes - kLanes)));
    float* z = out.scores.data() + r * classes;
    const int64_t label = out.labels[r];
    // A peak of 8 over scores in [-3, 3] is the row's maximum for sure.
    if (r % 3 == 0) z[label] += 8.f;                            // a right prediction
    if (r % 3 == 1) z[(label + classes / 2) % classes] += 8.f;  // a wrong one, at a column far from the label
  }                                                             // (r % 3 == 2: no peak, argmax anywhere)
  if (classes > kLanes && rows > 3) {
    // Exact ties across a lane's strides: argmax is the first maximum, as the reference's row_argmax says.
    float* z = out.scores.data();
    z[3 * classes + 3] = z[3 * classes + 3 + kLanes] = 12.f;  // same lane 3, columns 3 and 35
    out.labels[3] = static_cast<int32_t>(3 + kLanes);         // the later tie is not the argmax: a miss
    z[2 * classes + 5] = z[2 * classes + kLanes + 7] = 12.f;  // lanes 5 and 7, columns 5 and 39
    out.labels[2] = 5;                                        // a hit
  }
  return out;
}

// The rows do reach past the first warp-width of columns: labels, argmaxes, and the argmax of both tie rows.
template <class T>
void expect_rows_beyond_a_warp(const std::vector<T>& scores, const std::vector<int32_t>& labels, int64_t rows,
                               int64_t classes) {
  if (classes <= 32) return;
  int64_t labels_beyond = 0, argmax_beyond = 0, hits_beyond = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t argmax = ref::row_argmax(scores.data() + r * classes, classes);
    labels_beyond += labels[r] >= 32;
    argmax_beyond += argmax >= 32;
    hits_beyond += argmax >= 32 && argmax == labels[r];
  }
  EXPECT_GT(labels_beyond, 0);
  EXPECT_GT(argmax_beyond, 0);
  EXPECT_GT(hits_beyond, 0);
  if (rows > 3) {
    EXPECT_EQ(ref::row_argmax(scores.data() + 3 * classes, classes), 3) << "tie row 3";
    EXPECT_EQ(ref::row_argmax(scores.data() + 2 * classes, classes), 5) << "tie row 2";
  }
}

TYPED_TEST(OpParity, SoftmaxCrossEntropy) {
  const Device dev = TestFixture::device;
  for (int64_t classes : {10, 45, 100})  // fewer classes than a warp has lanes, and one and several strides more
    for (int64_t rows : {1, 16, 32}) {
      SCOPED_TRACE(std::to_string(classes) + " classes, batch " + std::to_string(rows));
      std::mt19937 rng(static_cast<unsigned>(100 + rows + 1000 * classes));
      LossRows data = loss_rows(rows, classes, rng);
      const auto& z = data.scores;
      const auto& labels = data.labels;
      expect_rows_beyond_a_warp(z, labels, rows, classes);
      Tensor tz = make_tensor(z, {rows, classes}, dev), tl = make_labels(labels, dev);
      Tensor tp = poisoned({rows, classes}, dev), tdz = poisoned({rows, classes}, dev);
      Tensor totals = make_tensor({0.5f, 2.f}, {kTotalsSlots}, dev);  // adds to what is there
      softmax_cross_entropy(tz, tl, tp, &tdz, 1.f / rows, &totals);

      std::vector<double> zd = to_double(z), pd(rows * classes), dzd(rows * classes);
      double loss = 0.5, correct = 2;
      ref::softmax_cross_entropy<double>(zd.data(), labels.data(), pd.data(), dzd.data(), 1.0 / rows, &loss, &correct,
                                         rows, classes);
      // float exp/log of arguments up to ~20 in magnitude: a few ulps of relative error in each probability.
      EXPECT_TRUE(all_close(tp.to_vector(), pd, 1e-7, 1e-5, "probabilities"));
      // At a confident right row p - 1 cancels (p ≈ 0.9996 leaves 4e-4): what is left is p's own float error, a
      // few ulps of 1 (~2e-7), so that entry needs an absolute bound.
      EXPECT_TRUE(all_close(tdz.to_vector(), dzd, 5e-7, 1e-5, "logit gradient"));
      // The correct count is a small integer and must be exact; the loss sums up to 32 terms of at most ~15.
      EXPECT_TRUE(all_close(totals.to_vector(), {loss, correct}, 1e-5, 1e-5, "loss and correct totals"));
      EXPECT_EQ(totals.to_vector()[kCorrectCount], static_cast<float>(correct)) << "correct count";

      // In place (probabilities over the logits), as the model runs it after a handed-over softmax: each row's loss
      // reads its label's logit, which another lane of the warp overwrites with a probability.
      Tensor in_place_totals = make_tensor({0.5f, 2.f}, {kTotalsSlots}, dev);
      softmax_cross_entropy(tz, tl, tz, nullptr, 1.f / rows, &in_place_totals);
      EXPECT_TRUE(all_close(tz.to_vector(), pd, 1e-7, 1e-5, "in-place probabilities"));
      EXPECT_TRUE(
          all_close(in_place_totals.to_vector(), {loss, correct}, 1e-5, 1e-5, "in-place loss and correct totals"));
    }
}

TYPED_TEST(OpParity, CrossEntropyOnProbabilities) {
  const Device dev = TestFixture::device;
  for (int64_t classes : {10, 45, 100}) {
    SCOPED_TRACE(std::to_string(classes) + " classes");
    const int64_t rows = 21;
    std::mt19937 rng(static_cast<unsigned>(77 + classes));
    LossRows data = loss_rows(rows, classes, rng);
    std::vector<float> p(rows * classes);
    std::vector<int32_t>& labels = data.labels;
    data.scores[1 * classes + labels[1]] += 40.f;  // so sure that its probability rounds to 1: clipped from above
    ref::softmax_forward(data.scores.data(), p.data(), rows, classes);
    labels[0] = 3;
    p[3] = 0.f;  // a probability clipped from below: zero gradient, loss -log(1e-7)
    expect_rows_beyond_a_warp(p, labels, rows, classes);
    Tensor tp = make_tensor(p, {rows, classes}, dev), tl = make_labels(labels, dev);
    Tensor tdp = poisoned({rows, classes}, dev), totals = Tensor::zeros({kTotalsSlots}, dev);
    cross_entropy_probabilities(tp, tl, &tdp, 1.f / rows, &totals);
    std::vector<double> pd = to_double(p), dpd(rows * classes);
    double loss = 0, correct = 0;
    ref::cross_entropy_probabilities<double>(pd.data(), labels.data(), dpd.data(), 1.0 / rows, &loss, &correct, rows,
                                             classes);
    EXPECT_EQ(dpd[1 * classes + labels[1]], 0.0) << "the row meant to be clipped from above is not";
    // -grad_scale / p: one division, correctly rounded in float.
    EXPECT_TRUE(all_close(tdp.to_vector(), dpd, 1e-6, 1e-5, "probability gradient"));
    // 21 logs of up to -log(1e-7) = 16.1 summed in float; the correct count is exact.
    EXPECT_TRUE(all_close(totals.to_vector(), {loss, correct}, 1e-4, 1e-5, "loss and correct totals"));
    EXPECT_EQ(totals.to_vector()[kCorrectCount], static_cast<float>(correct)) << "correct count";
  }
}

TYPED_TEST(OpParity, AdamFollowsTheDoubleReferenceOverSeveralSteps) {
  const Device dev = TestFixture::device;
  const int64_t n = 5000;
  std::mt19937 rng(21);
  auto p = random_floats(n, rng);
  AdamHyper hyper;
  hyper.learning_rate = 0.01f;
  Tensor tp = make_tensor(p, {n}, dev), tm = Tensor::zeros({n}, dev), tv = Tensor::zeros({n}, dev);
  Tensor schedule = Tensor::zeros({kAdamScheduleSlots}, dev);
  Tensor rate = make_tensor({hyper.learning_rate}, {1}, dev);
  std::vector<double> pd = to_double(p), md(n, 0.0), vd(n, 0.0), sd(kAdamScheduleSlots, 0.0);
  for (int step = 0; step < 4; ++step) {
    auto g = random_floats(n, rng);
    Tensor tg = make_tensor(g, {n}, dev);
    adam_advance(schedule, rate, hyper);
    adam_update(tp, tg, tm, tv, schedule, hyper);
    std::vector<double> gd = to_double(g);
    ref::adam_advance(sd.data(), double(hyper.learning_rate), hyper);
    ref::adam_update(pd.data(), gd.data(), md.data(), vd.data(), sd.data(), hyper, n);
  }
  EXPECT_TRUE(all_close(schedule.to_vector(), sd, 1e-7, 1e-6, "Adam step and alpha"));
  EXPECT_TRUE(all_close(tp.to_vector(), pd, 1e-6, 1e-5, "parameters after 4 Adam steps"));
  EXPECT_TRUE(all_close(tm.to_vector(), md, 1e-6, 1e-5, "first moments"));
  EXPECT_TRUE(all_close(tv.to_vector(), vd, 1e-7, 1e-5, "second moments"));
}

// Keras 3's Adam.update_step written out here, apart from kernels/adam.h: float32 throughout, Python's floats rounded
// as TensorFlow rounds them (1 - 0.9 and 1 - 0.999 computed in double, then float32; the powers of float32 0.9 and
// 0.999). Tight enough to tell the constants apart: an update written with 1 - 0.999f (0.00099998713, not float32
// 0.001) takes a first step 6.6e-6 larger than Keras's, 55 float32 ulps.
TYPED_TEST(OpParity, AdamStepsAreKerasFloat32Arithmetic) {
  const Device dev = TestFixture::device;
  // Gradients from 1e-9 (where epsilon dominates) to 7e3, of both signs, each keeping its sign so that the steps add
  // up; parameters start at 0, so that they are the sum of the steps, with no larger value's rounding in the way.
  std::vector<float> gradients;
  for (int exponent = -9; exponent <= 3; ++exponent)
    for (float mantissa : {1.f, -3.7f, 7.1f})
      gradients.push_back(mantissa * std::pow(10.f, static_cast<float>(exponent)));
  const int64_t n = static_cast<int64_t>(gradients.size());
  const AdamHyper hyper;  // Keras's defaults
  Tensor tp = Tensor::zeros({n}, dev), tm = Tensor::zeros({n}, dev), tv = Tensor::zeros({n}, dev);
  Tensor schedule = Tensor::zeros({kAdamScheduleSlots}, dev), rate = make_tensor({hyper.learning_rate}, {1}, dev);

  const float lr = 1e-3f, beta_1 = 0.9f, beta_2 = 0.999f, epsilon = 1e-7f;
  const float one_minus_beta_1 = static_cast<float>(1.0 - 0.9), one_minus_beta_2 = static_cast<float>(1.0 - 0.999);
  std::vector<float> p(n, 0.f), m(n, 0.f), v(n, 0.f);
  for (int step = 1; step <= 5; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    std::vector<float> g(gradients);
    for (float& x : g) x *= 1.f + 0.25f * static_cast<float>(step);
    adam_advance(schedule, rate, hyper);
    // alpha on its own: a GPU's powf may be an ulp off in beta2^t, which 1 - beta2^t (0.001 to 0.005 here) magnifies
    // 200 to 1,000 times, and the square root halves; on the CPU it is this expression to the bit.
    const float t = static_cast<float>(step);
    const float keras_alpha = lr * std::sqrt(1.f - std::pow(beta_2, t)) / (1.f - std::pow(beta_1, t));
    const float alpha = schedule.to_vector()[kAdamAlpha];
    EXPECT_NEAR(alpha, keras_alpha, (dev == Device::CPU ? 0.f : 5e-4f) * keras_alpha) << "alpha";
    // The update with the device's own alpha, then, within 4 ulps (a GPU may fuse a multiply and an add).
    adam_update(tp, make_tensor(g, {n}, dev), tm, tv, schedule, hyper);
    for (int64_t i = 0; i < n; ++i) {
      m[i] += (g[i] - m[i]) * one_minus_beta_1;
      v[i] += (g[i] * g[i] - v[i]) * one_minus_beta_2;
      p[i] -= m[i] * alpha / (std::sqrt(v[i]) + epsilon);
    }
  }
  auto within_ulps = [](const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    for (size_t i = 0; i < want.size(); ++i)
      if (!(std::fabs(got[i] - want[i]) <= 4 * std::numeric_limits<float>::epsilon() * std::fabs(want[i])))
        return ::testing::AssertionFailure() << what << "[" << i << "]: " << got[i] << ", Keras " << want[i];
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(within_ulps(tp.to_vector(), p, "parameters after 5 steps"));
  EXPECT_TRUE(within_ulps(tm.to_vector(), m, "first moments"));
  EXPECT_TRUE(within_ulps(tv.to_vector(), v, "second moments"));
}

TYPED_TEST(OpParity, Sgd) {
  const Device dev = TestFixture::device;
  const int64_t n = 300;
  std::mt19937 rng(4);
  auto p = random_floats(n, rng), g = random_floats(n, rng);
  Tensor tp = make_tensor(p, {n}, dev), tg = make_tensor(g, {n}, dev);
  sgd_update(tp, tg, make_tensor({0.1f}, {1}, dev));
  std::vector<double> pd = to_double(p), gd = to_double(g);
  ref::sgd_update(pd.data(), gd.data(), double(0.1f), n);
  EXPECT_TRUE(all_close(tp.to_vector(), pd, 1e-7, 1e-6, "parameters after SGD"));
}

TYPED_TEST(OpParity, GatherBatchScalesAndWidens) {
  const Device dev = TestFixture::device;
  const int64_t stored = 50, sample = 28 * 28;
  std::mt19937 rng(8);
  std::vector<uint8_t> images(stored * sample), labels(stored);
  for (auto& v : images) v = static_cast<uint8_t>(rng() % 256);
  for (auto& v : labels) v = static_cast<uint8_t>(rng() % 10);
  std::vector<int32_t> order(stored);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  Tensor ti = Tensor::wrap(images.data(), {stored, 28, 28}, Device::CPU, DType::U8).to(dev);
  Tensor tl = Tensor::wrap(labels.data(), {stored}, Device::CPU, DType::U8).to(dev);
  Tensor to = make_labels(order, dev);
  const int64_t begin = 10, n = 13;
  Tensor state = make_labels({static_cast<int32_t>(begin), 7, 0, 0}, dev);
  Tensor cursor = state.rows(kBatchCursor, kBatchCursor + 1);
  Tensor x = poisoned({n, 28, 28}, dev);
  Tensor y({n}, dev, DType::I32);
  gather_batch(ti, tl, to, cursor, x, y);
  advance_step(state, n);
  Tensor after = state.to(Device::CPU);
  EXPECT_EQ(after.data<int32_t>()[kBatchCursor], begin + n) << "cursor after the step";
  EXPECT_EQ(after.data<int32_t>()[kStepsDone], 8) << "steps done after the step";
  // Exactly v / 255 rounded to float32, what the tutorials' images / 255.0 hands Keras (a multiplication by a rounded
  // 1/255 is one ulp off for 126 of the 256 values; every value occurs among these 13 images).
  const std::vector<float> gathered = x.to_vector();
  int64_t wrong = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < sample; ++j)
      wrong += gathered[b * sample + j] != static_cast<float>(images[order[begin + b] * sample + j] / 255.0);
  EXPECT_EQ(wrong, 0) << "gathered pixels that are not v / 255 in float32";
  Tensor yh = y.to(Device::CPU);
  for (int64_t b = 0; b < n; ++b) EXPECT_EQ(yh.data<int32_t>()[b], labels[order[begin + b]]) << "label " << b;
}

// ---- TF32 (CudaContext::set_tf32: cuBLAS math mode, and the math type of cuDNN plans made afterwards) ----

// TF32 keeps 10 of FP32's 23 mantissa bits. Each operand of a product is rounded to it (or, at worst, truncated): a
// relative error below 2^-10 per operand, so each product is off by less than 2^-9 of itself; the FP32 accumulation
// adds nothing comparable. Over a sum of K products of inputs in [-1, 1] (|a·b| has rms 1/3) these errors are
// independent, each with a standard deviation of 2^-10/√6 of its product, so the sum is off by about
// 2^-10/√6 · 1/3 · √K ≈ 1.3e-4·√K (one σ), plus, when truncating, a bias toward zero of about 2^-10 of the result.
// The bound atol = 2^-9·√K, rtol = 2^-9 is about 15σ and twice that bias: honest for any summation order, yet far
// below the error of a wrong product (a transposed or shifted operand is off by ~√K/3, 170 times atol).
// Tf32Tolerance below checks both claims on the CPU with simulated TF32 operands.
struct Tolerance {
  double atol, rtol;
};
Tolerance tf32_tolerance(int64_t sum_length) {
  return {std::ldexp(std::sqrt(static_cast<double>(sum_length)), -9), std::ldexp(1.0, -9)};
}

// A float reduced to TF32's 10-bit mantissa: truncated (what tensor cores do to raw FP32 bits) or rounded to nearest
// (what a cvt.rna conversion does). Inputs here are finite and small, so no overflow handling is needed.
float to_tf32(float v, bool round_to_nearest) {
  uint32_t bits = 0;
  std::memcpy(&bits, &v, sizeof bits);
  if (round_to_nearest) bits += 0x1000u;
  bits &= 0xFFFFE000u;
  std::memcpy(&v, &bits, sizeof bits);
  return v;
}

TEST(Tf32Tolerance, AcceptsTf32ProductsAndRejectsAWrongOperand) {
  const int64_t dots = 256;
  for (int64_t k : {9, 70, 784, 21632}) {  // the sum lengths the TF32 tests below meet
    SCOPED_TRACE("sums of " + std::to_string(k) + " products");
    std::mt19937 rng(static_cast<unsigned>(k));
    auto a = random_floats(dots * k, rng), b = random_floats(dots * k, rng);
    std::vector<double> exact(dots);
    std::vector<float> truncated(dots), rounded(dots), shifted(dots);
    for (int64_t d = 0; d < dots; ++d) {
      const float* ad = a.data() + d * k;
      const float* bd = b.data() + d * k;
      double e = 0;
      float t = 0, r = 0, s = 0;
      for (int64_t i = 0; i < k; ++i) {
        e += static_cast<double>(ad[i]) * bd[i];
        t += to_tf32(ad[i], false) * to_tf32(bd[i], false);  // 11-bit significands: each product exact in FP32
        r += to_tf32(ad[i], true) * to_tf32(bd[i], true);
        s += to_tf32(ad[i], true) * to_tf32(bd[(i + 1) % k], true);  // an operand read one element off
      }
      exact[d] = e;
      truncated[d] = t;
      rounded[d] = r;
      shifted[d] = s;
    }
    const Tolerance tol = tf32_tolerance(k);
    EXPECT_TRUE(all_close(truncated, exact, tol.atol, tol.rtol, "truncated TF32 operands"));
    EXPECT_TRUE(all_close(rounded, exact, tol.atol, tol.rtol, "rounded TF32 operands"));
    EXPECT_FALSE(all_close(shifted, exact, tol.atol, tol.rtol, "misread operand"));
  }
}

// TF32 is a switch on the process-wide CUDA context: on for one test, then back to what it was however the test ends
// (a failed ASSERT returns, an exception unwinds), so no later test computes in TF32 by accident.
class Tf32On {
 public:
  Tf32On() : previous_(CudaContext::get().tf32()) { CudaContext::get().set_tf32(true); }
  ~Tf32On() {
    try {
      CudaContext::get().set_tf32(previous_);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "could not restore the math mode after a TF32 test: " << e.what();
    }
  }
  Tf32On(const Tf32On&) = delete;
  Tf32On& operator=(const Tf32On&) = delete;

 private:
  bool previous_;
};

// Dense through cuBLAS with TF32 tensor-core math (CUBLAS_TF32_TENSOR_OP_MATH), against the double reference.
TEST(Tf32Parity, DenseThroughCublas) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  ASSERT_FALSE(CudaContext::get().tf32()) << "an earlier test left TF32 on";
  {
    Tf32On tf32;
    ASSERT_TRUE(CudaContext::get().tf32());
    struct DenseCase {
      int64_t n, in, out;
    };
    // Odd sizes, the MLP's first layer at a training batch, and predict on one image.
    for (const DenseCase& c : {DenseCase{17, 70, 33}, DenseCase{32, 784, 128}, DenseCase{1, 128, 10}}) {
      SCOPED_TRACE("dense " + std::to_string(c.in) + " -> " + std::to_string(c.out) + ", batch " + std::to_string(c.n));
      std::mt19937 rng(static_cast<unsigned>(c.n * 7 + c.in));
      auto x = random_floats(c.n * c.in, rng), w = random_floats(c.in * c.out, rng), b = random_floats(c.out, rng),
           dy = random_floats(c.n * c.out, rng);
      Tensor tx = make_tensor(x, {c.n, c.in}, dev), tw = make_tensor(w, {c.in, c.out}, dev),
             tb = make_tensor(b, {c.out}, dev), ty = poisoned({c.n, c.out}, dev);
      dense_forward(tx, tw, tb, ty, Activation::ReLU);
      auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dzd = to_double(dy);
      std::vector<double> yd(c.n * c.out), dxd(c.n * c.in), dwd(c.in * c.out), dbd(c.out);
      ref::matmul(xd.data(), wd.data(), yd.data(), c.n, c.in, c.out);
      ref::bias_activation_forward(yd.data(), bd.data(), c.n, c.out, Activation::ReLU);
      const Tolerance forward = tf32_tolerance(c.in);  // sums of `in` products
      EXPECT_TRUE(all_close(ty.to_vector(), yd, forward.atol, forward.rtol, "TF32 dense output"));

      // The reference masks with the device's forward output, as the device does: TF32's larger error flips the
      // ReLU of values near 0 often enough that masking with the reference's own output would differ by whole
      // gradient entries there.
      const std::vector<double> y_device = to_double(ty.to_vector());
      Tensor tdy = make_tensor(dy, {c.n, c.out}, dev), tdx = poisoned({c.n, c.in}, dev),
             tdw = poisoned({c.in, c.out}, dev), tdb = poisoned({c.out}, dev);
      dense_backward(tx, tw, ty, tdy, Activation::ReLU, &tdx, tdw, tdb);
      ref::bias_activation_backward(y_device.data(), dzd.data(), dbd.data(), c.n, c.out, Activation::ReLU);
      ref::matmul_grad_weight(xd.data(), dzd.data(), dwd.data(), c.n, c.in, c.out);
      ref::matmul_grad_input(dzd.data(), wd.data(), dxd.data(), c.n, c.in, c.out);
      const Tolerance input_grad = tf32_tolerance(c.out), kernel_grad = tf32_tolerance(c.n);
      EXPECT_TRUE(all_close(tdx.to_vector(), dxd, input_grad.atol, input_grad.rtol, "TF32 dense input gradient"));
      EXPECT_TRUE(all_close(tdw.to_vector(), dwd, kernel_grad.atol, kernel_grad.rtol, "TF32 dense kernel gradient"));
      // The bias gradient is loom's own FP32 reduction, untouched by TF32: the FP32 bound of DenseForwardAndBackward.
      EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-5, 1e-4, "dense bias gradient (FP32)"));
    }
  }
  EXPECT_FALSE(CudaContext::get().tf32()) << "TF32 was not switched off again";
}

// Conv2D through cuDNN plans made after TF32 was switched on (a plan reads the switch when it is made).
TEST(Tf32Parity, Conv2dThroughCudnn) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  ASSERT_FALSE(CudaContext::get().tf32()) << "an earlier test left TF32 on";
  {
    Tf32On tf32;
    // The CNN's first layer at a training batch, a padded many-channel one, and a non-square kernel with "same"
    // padding (1, 2) on a non-square image.
    const Conv2dGeometry cases[] = {
        {32, 28, 28, 1, 8, 3, 3, 0, 0}, {7, 13, 13, 8, 16, 3, 3, 1, 1}, {4, 12, 10, 3, 6, 3, 5, 1, 2}};
    for (const Conv2dGeometry& g : cases) {
      const int64_t n = g.batch, oh = g.out_height(), ow = g.out_width();
      SCOPED_TRACE("conv " + std::to_string(g.height) + "x" + std::to_string(g.width) + "x" +
                   std::to_string(g.in_channels) + " -> " + std::to_string(g.out_channels) + " kernel " +
                   std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + ", batch " + std::to_string(n));
      cuda::Conv2dPlan plan(g, "conv_tf32_under_test");
      std::mt19937 rng(static_cast<unsigned>(n * 13 + g.height + g.kernel_w));
      const Shape x_shape{n, g.height, g.width, g.in_channels};
      const Shape w_shape{g.out_channels, g.kernel_h, g.kernel_w, g.in_channels};
      const Shape y_shape{n, oh, ow, g.out_channels};
      auto x = random_floats(n * g.height * g.width * g.in_channels, rng),
           w = random_floats(g.out_channels * g.kernel_h * g.kernel_w * g.in_channels, rng),
           b = random_floats(g.out_channels, rng), dy = random_floats(n * oh * ow * g.out_channels, rng);
      Tensor tx = make_tensor(x, x_shape, dev), tw = make_tensor(w, w_shape, dev),
             tb = make_tensor(b, {g.out_channels}, dev), ty = poisoned(y_shape, dev);
      conv2d_forward(tx, tw, tb, ty, g.pad_h, g.pad_w, Activation::ReLU, &plan);
      auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dzd = to_double(dy);
      std::vector<double> yd(dy.size()), dxd(x.size()), dwd(w.size()), dbd(g.out_channels);
      ref::conv2d_forward(xd.data(), wd.data(), yd.data(), g);
      ref::bias_activation_forward(yd.data(), bd.data(), n * oh * ow, g.out_channels, Activation::ReLU);
      const Tolerance forward = tf32_tolerance(g.kernel_h * g.kernel_w * g.in_channels);
      EXPECT_TRUE(all_close(ty.to_vector(), yd, forward.atol, forward.rtol, "TF32 conv output"));

      const std::vector<double> y_device = to_double(ty.to_vector());  // the device's ReLU mask, as for Dense
      Tensor tdy = make_tensor(dy, y_shape, dev), tdx = poisoned(x_shape, dev), tdw = poisoned(w_shape, dev),
             tdb = poisoned({g.out_channels}, dev);
      conv2d_backward(tx, tw, ty, tdy, g.pad_h, g.pad_w, Activation::ReLU, &tdx, tdw, tdb, &plan);
      ref::bias_activation_backward(y_device.data(), dzd.data(), dbd.data(), n * oh * ow, g.out_channels,
                                    Activation::ReLU);
      ref::conv2d_backward_filter(xd.data(), dzd.data(), dwd.data(), g);
      ref::conv2d_backward_data(dzd.data(), wd.data(), dxd.data(), g);
      // An input pixel gathers at most out·kh·kw products; a kernel entry sums over all n·oh·ow output positions.
      const Tolerance data_grad = tf32_tolerance(g.out_channels * g.kernel_h * g.kernel_w),
                      filter_grad = tf32_tolerance(n * oh * ow);
      EXPECT_TRUE(all_close(tdx.to_vector(), dxd, data_grad.atol, data_grad.rtol, "TF32 conv input gradient"));
      EXPECT_TRUE(all_close(tdw.to_vector(), dwd, filter_grad.atol, filter_grad.rtol, "TF32 conv kernel gradient"));
      // loom's own FP32 reduction over n·oh·ow rows: the bound of ConvParity.Conv2dForwardAndBackward.
      EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-4, 1e-3, "conv bias gradient (FP32)"));
    }
  }
  EXPECT_FALSE(CudaContext::get().tf32()) << "TF32 was not switched off again";
}

// The parity tests above pass whether or not TF32 was engaged (FP32 results lie inside TF32's tolerance); these prove
// which math ran. A sum of c products of 1 + 2^-12 and 1 is c·(1 + 2^-12) in FP32, exactly (for c up to 4,096);
// TF32 keeps 10 bits of mantissa, so the 2^-12 is gone from the operand and the sum is c. Every output says which.
constexpr double kTf32Probe = 1.0 + 1.0 / 4096;

// How many of `values` lie within a quarter of the gap between the two answers of TF32's (counts[i]) and of FP32's
// (counts[i]·kTf32Probe): FP32's own rounding, even through a convolution algorithm's transforms, stays far inside.
struct MathSeen {
  int64_t tf32 = 0, fp32 = 0, neither = 0;
};
MathSeen math_seen(const std::vector<float>& values, const std::vector<double>& counts) {
  MathSeen seen;
  for (size_t i = 0; i < values.size(); ++i) {
    const double y = values[i], c = counts[i], margin = c * (kTf32Probe - 1) / 4;
    if (c >= 1 && std::fabs(y - c) <= margin)
      ++seen.tf32;
    else if (c >= 1 && std::fabs(y - c * kTf32Probe) <= margin)
      ++seen.fp32;
    else
      ++seen.neither;
  }
  return seen;
}

// With TF32 off, every output must be FP32's.
::testing::AssertionResult computed_in_fp32(const std::vector<float>& values, const std::vector<double>& counts,
                                            const std::string& what) {
  if (values.size() != counts.size())
    return ::testing::AssertionFailure() << what << ": " << values.size() << " outputs for " << counts.size()
                                         << " counts";
  const MathSeen seen = math_seen(values, counts);
  if (seen.fp32 == static_cast<int64_t>(values.size())) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": of " << values.size() << " outputs, " << seen.tf32
                                       << " show TF32's rounding, " << seen.neither << " neither TF32's nor FP32's; "
                                       << "expected all FP32";
}

// With TF32 on, the libraries may use it, not must (cuBLAS's TF32_TENSOR_OP math allows it; cuDNN runs the
// algorithm its heuristic picked). A pass engaged TF32 when any output is not FP32's: TF32's answer exactly, or
// "neither" where an algorithm's transforms (Winograd's 1/6 and 1/24) were rounded to TF32 too. Each pass is either
// FP32 throughout or engaged; `must`/`must_not` are the passes a plan's reported math decides; and at least one
// pass must engage, or the switch changed nothing.
struct PassSeen {
  std::string what;
  MathSeen seen;
  int64_t size;
  bool engaged() const { return seen.fp32 < size; }
};
PassSeen pass_seen(const std::string& what, const std::vector<float>& values, const std::vector<double>& counts) {
  return {what, math_seen(values, counts), static_cast<int64_t>(values.size())};
}
::testing::AssertionResult tf32_engaged(const std::vector<PassSeen>& passes, const std::set<std::string>& must,
                                        const std::set<std::string>& must_not, std::ostream* log = &std::cout) {
  std::ostringstream seen, wrong;
  bool any = false;
  for (const PassSeen& p : passes) {
    seen << "\n  " << p.what << ": " << p.seen.tf32 << " of " << p.size << " outputs TF32's, " << p.seen.fp32
         << " FP32's, " << p.seen.neither << " neither";
    any = any || p.engaged();
    if (p.engaged() && p.seen.fp32 > 0) wrong << "\n  " << p.what << " mixes FP32 and TF32 outputs";
    if (must.count(p.what) && !p.engaged()) wrong << "\n  " << p.what << " reports tensor-op math but ran FP32";
    if (must_not.count(p.what) && p.engaged()) wrong << "\n  " << p.what << " reports FMA math but ran TF32";
  }
  if (!any) wrong << "\n  no pass engaged TF32: switching it on changed nothing";
  if (log) *log << "[ TF32     ] with TF32 on:" << seen.str() << "\n";  // which passes engaged, logged either way
  if (wrong.str().empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "with TF32 on:" << wrong.str() << seen.str();
}

// NVIDIA_TF32_OVERRIDE=0 forbids TF32 in the whole process, whatever a program asks.
bool tf32_forbidden_by_the_environment() {
  const char* override = std::getenv("NVIDIA_TF32_OVERRIDE");
  return override && std::string(override) == "0";
}

// cuBLAS: with TF32 off all three of Dense's products are FP32's, with it on they engage TF32 (that the handle's math
// mode reads back as set: tests/test_cuda_context_cuda.cpp).
TEST(Tf32Parity, CublasComputesInTf32OnlyWhenAskedTo) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  ASSERT_FALSE(CudaContext::get().tf32()) << "an earlier test left TF32 on";
  const int64_t n = 256, in = 1024, out = 256;  // large enough for cuBLAS's tensor-core kernels
  auto dense_outputs = [&](float x_value, float w_value) {
    Tensor x = make_tensor(std::vector<float>(n * in, x_value), {n, in}, dev),
           w = make_tensor(std::vector<float>(in * out, w_value), {in, out}, dev),
           b = make_tensor(std::vector<float>(out, 0.f), {out}, dev), y = poisoned({n, out}, dev),
           dy = make_tensor(std::vector<float>(n * out, 1.f), {n, out}, dev), dx = poisoned({n, in}, dev),
           dw = poisoned({in, out}, dev), db = poisoned({out}, dev);
    dense_forward(x, w, b, y, Activation::None);
    dense_backward(x, w, y, dy, Activation::None, &dx, dw, db);
    return std::vector<std::vector<float>>{y.to_vector(), dx.to_vector(), dw.to_vector()};
  };
  const float probe = static_cast<float>(kTf32Probe);
  // x carries the probe: the output (x·w, sums of `in` products) and the kernel gradient (xᵀ·dy, of n) show the
  // math; then w does, for the input gradient (dy·wᵀ, of `out`).
  const std::vector<double> output_counts(n * out, in), kernel_counts(in * out, n), input_counts(n * in, out);
  for (bool tf32 : {false, true}) {
    SCOPED_TRACE(tf32 ? "TF32 on" : "TF32 off");
    if (tf32 && tf32_forbidden_by_the_environment()) GTEST_SKIP() << "NVIDIA_TF32_OVERRIDE=0 forbids TF32 here";
    std::unique_ptr<Tf32On> on = tf32 ? std::make_unique<Tf32On>() : nullptr;
    const auto x_probe = dense_outputs(probe, 1.f), w_probe = dense_outputs(1.f, probe);
    if (!tf32) {
      EXPECT_TRUE(computed_in_fp32(x_probe[0], output_counts, "dense output x·w"));
      EXPECT_TRUE(computed_in_fp32(x_probe[2], kernel_counts, "dense kernel gradient xᵀ·dy"));
      EXPECT_TRUE(computed_in_fp32(w_probe[1], input_counts, "dense input gradient dy·wᵀ"));
    } else {
      EXPECT_TRUE(tf32_engaged({pass_seen("dense output x·w", x_probe[0], output_counts),
                                pass_seen("dense kernel gradient xᵀ·dy", x_probe[2], kernel_counts),
                                pass_seen("dense input gradient dy·wᵀ", w_probe[1], input_counts)},
                               {}, {}));
    }
  }
  EXPECT_FALSE(CudaContext::get().tf32()) << "TF32 was not switched off again";
}

// cuDNN: a convolution planned with TF32 off computes all three passes in FP32; planned with it on (a plan reads the
// switch when it is made), each pass rounds as the math its plan reports, and TF32 engages somewhere. At the
// tutorial CNN's second convolution.
TEST(Tf32Parity, CudnnComputesInTf32OnlyWhenAskedTo) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  ASSERT_FALSE(CudaContext::get().tf32()) << "an earlier test left TF32 on";
  const Conv2dGeometry g{32, 13, 13, 64, 64, 3, 3, 0, 0};
  const Shape x_shape{g.batch, g.height, g.width, g.in_channels},
      w_shape{g.out_channels, g.kernel_h, g.kernel_w, g.in_channels},
      y_shape{g.batch, g.out_height(), g.out_width(), g.out_channels};
  // How many products each output sums: the passes of the reference on all-ones operands (a border pixel of the
  // input gradient gathers fewer windows than an inner one).
  std::vector<double> ones_x(shape_numel(x_shape), 1.0), ones_w(shape_numel(w_shape), 1.0),
      ones_y(shape_numel(y_shape), 1.0), forward_counts(ones_y.size()), data_counts(ones_x.size()),
      filter_counts(ones_w.size());
  ref::conv2d_forward(ones_x.data(), ones_w.data(), forward_counts.data(), g);
  ref::conv2d_backward_data(ones_y.data(), ones_w.data(), data_counts.data(), g);
  ref::conv2d_backward_filter(ones_x.data(), ones_y.data(), filter_counts.data(), g);
  const float probe = static_cast<float>(kTf32Probe);
  for (bool tf32 : {false, true}) {
    SCOPED_TRACE(tf32 ? "TF32 on" : "TF32 off");
    if (tf32 && tf32_forbidden_by_the_environment()) GTEST_SKIP() << "NVIDIA_TF32_OVERRIDE=0 forbids TF32 here";
    std::unique_ptr<Tf32On> on = tf32 ? std::make_unique<Tf32On>() : nullptr;
    cuda::Conv2dPlan plan(g, "conv_math_under_test");
    auto conv_outputs = [&](float x_value, float w_value) {
      Tensor x = make_tensor(std::vector<float>(shape_numel(x_shape), x_value), x_shape, dev),
             w = make_tensor(std::vector<float>(shape_numel(w_shape), w_value), w_shape, dev),
             b = make_tensor(std::vector<float>(g.out_channels, 0.f), {g.out_channels}, dev),
             y = poisoned(y_shape, dev), dy = make_tensor(std::vector<float>(shape_numel(y_shape), 1.f), y_shape, dev),
             dx = poisoned(x_shape, dev), dw = poisoned(w_shape, dev), db = poisoned({g.out_channels}, dev);
      conv2d_forward(x, w, b, y, g.pad_h, g.pad_w, Activation::None, &plan);
      conv2d_backward(x, w, y, dy, g.pad_h, g.pad_w, Activation::None, &dx, dw, db, &plan);
      return std::vector<std::vector<float>>{y.to_vector(), dx.to_vector(), dw.to_vector()};
    };
    const auto x_probe = conv_outputs(probe, 1.f), w_probe = conv_outputs(1.f, probe);
    const std::string forward = "convolution forward", filter = "convolution backward-filter",
                      data = "convolution backward-data";
    const cuda::Conv2dPlan::PassMaths maths = plan.pass_maths();
    if (!tf32) {
      EXPECT_EQ(maths.forward, cuda::Conv2dPlan::Math::Fma);
      EXPECT_EQ(maths.backward_data, cuda::Conv2dPlan::Math::Fma);
      EXPECT_EQ(maths.backward_filter, cuda::Conv2dPlan::Math::Fma);
      EXPECT_TRUE(computed_in_fp32(x_probe[0], forward_counts, forward));
      EXPECT_TRUE(computed_in_fp32(x_probe[2], filter_counts, filter));
      EXPECT_TRUE(computed_in_fp32(w_probe[1], data_counts, data));
    } else {
      std::set<std::string> must, must_not;
      for (const auto& [pass, math] : {std::pair{forward, maths.forward}, std::pair{filter, maths.backward_filter},
                                       std::pair{data, maths.backward_data}}) {
        if (math == cuda::Conv2dPlan::Math::TensorOp) must.insert(pass);
        if (math == cuda::Conv2dPlan::Math::Fma) must_not.insert(pass);
      }
      EXPECT_TRUE(tf32_engaged({pass_seen(forward, x_probe[0], forward_counts),
                                pass_seen(filter, x_probe[2], filter_counts), pass_seen(data, w_probe[1], data_counts)},
                               must, must_not));
    }
  }
  EXPECT_FALSE(CudaContext::get().tf32()) << "TF32 was not switched off again";
}

// The probe must tell the two apart, or the tests that use it prove nothing: FP32 sums of the probe, added in order
// as a kernel might (exact up to 4,096 terms), against the counts TF32 would give, up to the most products a test
// above sums (3,872 in the convolution's kernel gradient).
TEST(Tf32Parity, TheMathProbeTellsTf32FromFp32) {
  std::vector<float> tf32_sums, fp32_sums;
  std::vector<double> counts;
  for (int c : {1, 9, 64, 576, 3872, 4095}) {
    counts.push_back(c);
    tf32_sums.push_back(static_cast<float>(c));
    float sum = 0;
    for (int i = 0; i < c; ++i) sum += static_cast<float>(kTf32Probe);
    fp32_sums.push_back(sum);
  }
  EXPECT_TRUE(computed_in_fp32(fp32_sums, counts, "FP32 sums of the probe"));
  EXPECT_FALSE(computed_in_fp32(tf32_sums, counts, "whole counts"));
  EXPECT_EQ(math_seen(tf32_sums, counts).tf32, 6);
  EXPECT_EQ(math_seen({0.f, std::nanf(""), 1.1f}, {1, 1, 1}).neither, 3) << "zero, NaN and 1.1 are neither";
  const PassSeen tf32_pass = pass_seen("a", tf32_sums, counts), fp32_pass = pass_seen("b", fp32_sums, counts);
  EXPECT_TRUE(tf32_engaged({tf32_pass, fp32_pass}, {"a"}, {"b"}, nullptr));
  EXPECT_FALSE(tf32_engaged({fp32_pass}, {}, {}, nullptr)) << "nothing engaged";
  EXPECT_FALSE(tf32_engaged({tf32_pass, fp32_pass}, {"b"}, {}, nullptr)) << "a pass reporting tensor-op math ran FP32";
  EXPECT_FALSE(tf32_engaged({tf32_pass}, {}, {"a"}, nullptr)) << "a pass reporting FMA math ran TF32";
  std::vector<float> mixed = tf32_sums;
  mixed[0] = fp32_sums[0];
  EXPECT_FALSE(tf32_engaged({pass_seen("a", mixed, counts)}, {}, {}, nullptr)) << "a pass mixing both";
}

TEST(OpChecks, MismatchedShapesAreNamed) {
  Tensor x = Tensor::zeros({4, 6}, Device::CPU), w = Tensor::zeros({5, 3}, Device::CPU),
         b = Tensor::zeros({3}, Device::CPU), y = Tensor::zeros({4, 3}, Device::CPU);
  try {
    dense_forward(x, w, b, y, Activation::None);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("(4, 6)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(5, 3)"), std::string::npos) << e.what();
  }
}

TEST(OpChecks, OutOfRangeLabelIsReportedOnTheCpu) {
  Tensor z = Tensor::zeros({2, 10}, Device::CPU), p = Tensor::zeros({2, 10}, Device::CPU);
  Tensor labels = make_labels({3, 10}, Device::CPU);
  EXPECT_THROW(softmax_cross_entropy(z, labels, p, nullptr, 1.f, nullptr), std::exception);
}

// Training mode (batch statistics, the moving statistics' update), inference (moving statistics) and backward, for
// a Dense output and for image batches. cuDNN plans per batch size, as the layer does.
TYPED_TEST(OpParity, BatchNormTrainingInferenceAndBackward) {
  const Device dev = TestFixture::device;
  for (const Shape& shape : {Shape{32, 20}, Shape{4, 5, 5, 70}, Shape{1, 3, 3, 16}}) {
    SCOPED_TRACE(shape_str(shape));
    const int64_t c = shape.back(), m = shape_numel(shape) / c;
    std::mt19937 rng(static_cast<unsigned>(m + c));
    auto x = random_floats(m * c, rng, -2.f, 3.f), gamma = random_floats(c, rng, 0.5f, 1.5f),
         beta = random_floats(c, rng), moving_mean = random_floats(c, rng),
         moving_var = random_floats(c, rng, 0.5f, 2.f), dy = random_floats(m * c, rng);
    BatchNormSettings settings;
    settings.momentum = 0.9f;  // a large step, so a wrong update shows
    std::unique_ptr<cuda::BatchNormPlan> plan;
    if (dev == Device::CUDA)
      plan = std::make_unique<cuda::BatchNormPlan>(BatchNormGeometry{shape[0], m / shape[0], c}, "parity");
    Tensor tx = make_tensor(x, shape, dev), tg = make_tensor(gamma, {c}, dev), tb = make_tensor(beta, {c}, dev);
    Tensor tmm = make_tensor(moving_mean, {c}, dev), tmv = make_tensor(moving_var, {c}, dev);
    Tensor ty = poisoned(shape, dev), tmean = poisoned({c}, dev), tinv = poisoned({c}, dev);

    // Inference first: it reads the moving statistics before the training pass moves them.
    std::vector<double> xd = to_double(x), gd = to_double(gamma), bd = to_double(beta), mmd = to_double(moving_mean),
                        mvd = to_double(moving_var), yd(m * c);
    batch_norm_forward_inference(tx, tg, tb, tmm, tmv, ty, settings, plan.get());
    ref::batch_norm_forward_inference(xd.data(), gd.data(), bd.data(), mmd.data(), mvd.data(), yd.data(), m, c,
                                      settings);
    EXPECT_TRUE(all_close(ty.to_vector(), yd, 1e-5, 1e-5, "inference output"));

    ty = poisoned(shape, dev);
    std::vector<double> meand(c), invd(c);
    batch_norm_forward_training(tx, tg, tb, ty, tmm, tmv, tmean, tinv, settings, plan.get());
    ref::batch_norm_forward_training(xd.data(), gd.data(), bd.data(), yd.data(), mmd.data(), mvd.data(), meand.data(),
                                     invd.data(), m, c, settings);
    EXPECT_TRUE(all_close(ty.to_vector(), yd, 1e-5, 1e-4, "training output"));  // m-term float sums
    EXPECT_TRUE(all_close(tmean.to_vector(), meand, 1e-6, 1e-5, "batch mean"));
    EXPECT_TRUE(all_close(tinv.to_vector(), invd, 1e-6, 1e-4, "batch inv_std"));
    EXPECT_TRUE(all_close(tmm.to_vector(), mmd, 1e-6, 1e-5, "moving mean"));
    EXPECT_TRUE(all_close(tmv.to_vector(), mvd, 1e-6, 1e-4, "moving variance"));  // from inv_std on the GPU

    Tensor tdy = make_tensor(dy, shape, dev), tdx = poisoned(shape, dev), tdg = poisoned({c}, dev),
           tdb = poisoned({c}, dev);
    std::vector<double> dyd = to_double(dy), dxd(m * c), dgd(c), dbd(c);
    batch_norm_backward(tx, tg, tmean, tinv, tdy, &tdx, tdg, tdb, settings, plan.get());
    ref::batch_norm_backward(xd.data(), gd.data(), meand.data(), invd.data(), dyd.data(), dxd.data(), dgd.data(),
                             dbd.data(), m, c);
    EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 1e-4, 1e-3, "input gradient"));  // differences of m-term sums
    EXPECT_TRUE(all_close(tdg.to_vector(), dgd, 1e-4, 1e-4, "gamma gradient"));
    EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-4, 1e-4, "beta gradient"));
  }
}

// The same mask on every device, element for element (an odd length leaves a partial block of four), drawn for the
// step the state holds.
TYPED_TEST(OpParity, DropoutDrawsTheReferenceMask) {
  const Device dev = TestFixture::device;
  const int64_t n = 1001;
  std::mt19937 rng(41);
  auto x = random_floats(n, rng);
  const PhiloxKey key = philox_key(3, kFirstLayerStream + 4);
  Tensor tx = make_tensor(x, {n}, dev), ty = poisoned({n}, dev);
  Tensor state = make_labels({0, 12, 0, 0}, dev);
  dropout(tx, ty, 0.3f, key, state);
  std::vector<float> expected(n);
  ref::dropout(x.data(), expected.data(), n, 0.3f, key, 12);
  EXPECT_EQ(ty.to_vector(), expected);
}

// Shifts, flips and the zeros they bring in, for one-channel and three-channel images, at the state's cursor and
// step: the same pixels on every device.
TYPED_TEST(OpParity, AugmentedGatherMatchesTheReference) {
  const Device dev = TestFixture::device;
  for (const Shape& sample : {Shape{28, 28}, Shape{6, 5, 3}}) {
    SCOPED_TRACE(shape_str(sample));
    const int64_t stored = 40, size = shape_numel(sample), n = 9, begin = 17;
    std::mt19937 rng(static_cast<unsigned>(size));
    std::vector<uint8_t> images(stored * size), labels(stored);
    for (auto& v : images) v = static_cast<uint8_t>(1 + rng() % 255);  // never 0: a shifted-in zero shows
    for (auto& v : labels) v = static_cast<uint8_t>(rng() % 10);
    std::vector<int32_t> order(stored);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    Shape image_shape{stored};
    image_shape.insert(image_shape.end(), sample.begin(), sample.end());
    Shape batch_shape = image_shape;
    batch_shape[0] = n;
    Tensor ti = Tensor::wrap(images.data(), image_shape, Device::CPU, DType::U8).to(dev);
    Tensor tl = Tensor::wrap(labels.data(), {stored}, Device::CPU, DType::U8).to(dev);
    Tensor to = make_labels(order, dev);
    const std::vector<int32_t> state_words = {static_cast<int32_t>(begin), 5, 0, 0};
    Tensor state = make_labels(state_words, dev);
    const Augmentation augmentation{2, true};
    const PhiloxKey key = philox_key(9, kAugmentationStream);
    Tensor x = poisoned(batch_shape, dev), y({n}, dev, DType::I32);
    gather_augmented_batch(ti, tl, to, state, augmentation, key, x, y);
    std::vector<float> expected(n * size);
    std::vector<int32_t> expected_labels(n);
    const ImageLayout layout{sample[0], sample[1], sample.size() == 3 ? sample[2] : 1};
    ref::gather_augmented_batch(images.data(), labels.data(), order.data(), state_words.data(), expected.data(),
                                expected_labels.data(), n, layout, augmentation, key);
    EXPECT_EQ(x.to_vector(), expected);
    Tensor yh = y.to(Device::CPU);
    EXPECT_EQ(std::vector<int32_t>(yh.data<int32_t>(), yh.data<int32_t>() + n), expected_labels);
  }
}

}  // namespace
}  // namespace loom::test
