// Every op on every device against the double-precision reference: on the CPU this checks the float reference, on
// CUDA the kernels (skipped, with the reason, when there is no GPU). Outputs start as NaN so an unwritten element
// fails; each tolerance sits next to the tensor it checks.
#include <cmath>
#include <numeric>

#include <gtest/gtest.h>

#include "kernels/adam.h"
#include "kernels/bias_activation.h"
#include "kernels/cross_entropy.h"
#include "kernels/dense.h"
#include "kernels/gather_batch.h"
#include "kernels/relu.h"
#include "kernels/sgd.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
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

TYPED_TEST(OpParity, SoftmaxCrossEntropy) {
  const Device dev = TestFixture::device;
  for (int64_t rows : {1, 16, 32}) {
    const int64_t classes = 10;
    std::mt19937 rng(static_cast<unsigned>(100 + rows));
    auto z = random_floats(rows * classes, rng, -3, 3);
    auto labels = random_labels(rows, classes, rng);
    for (int64_t r = 0; r < rows; r += 2) z[r * classes + labels[r]] += 5.f;  // some rows right, some wrong
    Tensor tz = make_tensor(z, {rows, classes}, dev), tl = make_labels(labels, dev);
    Tensor tp = poisoned({rows, classes}, dev), tdz = poisoned({rows, classes}, dev);
    Tensor totals = make_tensor({0.5f, 2.f}, {kTotalsSlots}, dev);  // adds to what is there
    softmax_cross_entropy(tz, tl, tp, &tdz, 1.f / rows, &totals);

    std::vector<double> zd = to_double(z), pd(rows * classes), dzd(rows * classes);
    double loss = 0.5, correct = 2;
    ref::softmax_cross_entropy<double>(zd.data(), labels.data(), pd.data(), dzd.data(), 1.0 / rows, &loss, &correct,
                                       rows, classes);
    EXPECT_TRUE(all_close(tp.to_vector(), pd, 1e-7, 1e-5, "probabilities"));
    EXPECT_TRUE(all_close(tdz.to_vector(), dzd, 1e-7, 1e-5, "logit gradient"));
    EXPECT_TRUE(all_close(totals.to_vector(), {loss, correct}, 1e-5, 1e-5, "loss and correct totals"));

    // In place (probabilities over the logits), as the model runs it after a handed-over softmax.
    softmax_cross_entropy(tz, tl, tz, nullptr, 1.f / rows, nullptr);
    EXPECT_TRUE(all_close(tz.to_vector(), pd, 1e-7, 1e-5, "in-place probabilities"));
  }
}

TYPED_TEST(OpParity, CrossEntropyOnProbabilities) {
  const Device dev = TestFixture::device;
  const int64_t rows = 21, classes = 10;
  std::mt19937 rng(77);
  std::vector<float> z = random_floats(rows * classes, rng, -3, 3), p(rows * classes);
  ref::softmax_forward(z.data(), p.data(), rows, classes);
  p[3] = 0.f;  // a clipped probability: zero gradient, loss -log(1e-7)
  auto labels = random_labels(rows, classes, rng);
  labels[0] = 3;
  Tensor tp = make_tensor(p, {rows, classes}, dev), tl = make_labels(labels, dev);
  Tensor tdp = poisoned({rows, classes}, dev), totals = Tensor::zeros({kTotalsSlots}, dev);
  cross_entropy_probabilities(tp, tl, &tdp, 1.f / rows, &totals);
  std::vector<double> pd = to_double(p), dpd(rows * classes);
  double loss = 0, correct = 0;
  ref::cross_entropy_probabilities<double>(pd.data(), labels.data(), dpd.data(), 1.0 / rows, &loss, &correct, rows,
                                           classes);
  EXPECT_TRUE(all_close(tdp.to_vector(), dpd, 1e-6, 1e-5, "probability gradient"));
  EXPECT_TRUE(all_close(totals.to_vector(), {loss, correct}, 1e-4, 1e-5, "loss and correct totals"));
}

TYPED_TEST(OpParity, AdamMatchesKerasUpdateOverSeveralSteps) {
  const Device dev = TestFixture::device;
  const int64_t n = 5000;
  std::mt19937 rng(21);
  auto p = random_floats(n, rng);
  AdamHyper hyper;
  hyper.learning_rate = 0.01f;
  Tensor tp = make_tensor(p, {n}, dev), tm = Tensor::zeros({n}, dev), tv = Tensor::zeros({n}, dev);
  Tensor schedule = Tensor::zeros({kAdamScheduleSlots}, dev);
  std::vector<double> pd = to_double(p), md(n, 0.0), vd(n, 0.0), sd(kAdamScheduleSlots, 0.0);
  for (int step = 0; step < 4; ++step) {
    auto g = random_floats(n, rng);
    Tensor tg = make_tensor(g, {n}, dev);
    adam_advance(schedule, hyper);
    adam_update(tp, tg, tm, tv, schedule, hyper);
    std::vector<double> gd = to_double(g);
    ref::adam_advance(sd.data(), hyper);
    ref::adam_update(pd.data(), gd.data(), md.data(), vd.data(), sd.data(), hyper, n);
  }
  EXPECT_TRUE(all_close(schedule.to_vector(), sd, 1e-7, 1e-6, "Adam step and alpha"));
  EXPECT_TRUE(all_close(tp.to_vector(), pd, 1e-6, 1e-5, "parameters after 4 Adam steps"));
  EXPECT_TRUE(all_close(tm.to_vector(), md, 1e-6, 1e-5, "first moments"));
  EXPECT_TRUE(all_close(tv.to_vector(), vd, 1e-7, 1e-5, "second moments"));
}

TYPED_TEST(OpParity, Sgd) {
  const Device dev = TestFixture::device;
  const int64_t n = 300;
  std::mt19937 rng(4);
  auto p = random_floats(n, rng), g = random_floats(n, rng);
  Tensor tp = make_tensor(p, {n}, dev), tg = make_tensor(g, {n}, dev);
  sgd_update(tp, tg, 0.1f);
  std::vector<double> pd = to_double(p), gd = to_double(g);
  ref::sgd_update(pd.data(), gd.data(), 0.1, n);
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
  Tensor cursor = make_labels({static_cast<int32_t>(begin)}, dev);
  Tensor x = poisoned({n, 28, 28}, dev);
  Tensor y({n}, dev, DType::I32);
  gather_batch(ti, tl, to, cursor, x, y);
  advance_cursor(cursor, n);
  EXPECT_EQ(cursor.to(Device::CPU).data<int32_t>()[0], begin + n) << "cursor after advance";
  std::vector<double> expected(n * sample);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < sample; ++j) expected[b * sample + j] = images[order[begin + b] * sample + j] / 255.0;
  EXPECT_TRUE(all_close(x.to_vector(), expected, 1e-7, 1e-6, "gathered pixels"));
  Tensor yh = y.to(Device::CPU);
  for (int64_t b = 0; b < n; ++b) EXPECT_EQ(yh.data<int32_t>()[b], labels[order[begin + b]]) << "label " << b;
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

}  // namespace
}  // namespace loom::test
