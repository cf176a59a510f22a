// Conv2D and MaxPool2D references: forward values against hand-computed examples and a direct seven-loop
// evaluation of the defining formula, gradients (in double) against central differences, the tie rule of max
// pooling, and the shape checks of the Tensor-level entry points.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

#include <gtest/gtest.h>

#include "engine/runtime/errors.h"
#include "kernels/bias_activation.h"
#include "kernels/conv2d.h"
#include "kernels/max_pool2d.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

Conv2dGeometry conv_geometry(int64_t n, int64_t h, int64_t w, int64_t in, int64_t out, int64_t kh, int64_t kw,
                             int64_t pad_h, int64_t pad_w) {
  Conv2dGeometry g;
  g.batch = n;
  g.height = h;
  g.width = w;
  g.in_channels = in;
  g.out_channels = out;
  g.kernel_h = kh;
  g.kernel_w = kw;
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  return g;
}

MaxPool2dGeometry pool_geometry(int64_t n, int64_t h, int64_t w, int64_t c, int64_t pool, int64_t stride) {
  MaxPool2dGeometry g;
  g.batch = n;
  g.height = h;
  g.width = w;
  g.channels = c;
  g.pool_h = g.pool_w = pool;
  g.stride_h = g.stride_w = stride;
  return g;
}

size_t input_size(const Conv2dGeometry& g) { return g.batch * g.height * g.width * g.in_channels; }
size_t kernel_size(const Conv2dGeometry& g) { return g.out_channels * g.kernel_h * g.kernel_w * g.in_channels; }
size_t output_size(const Conv2dGeometry& g) { return g.batch * g.out_height() * g.out_width() * g.out_channels; }
size_t input_size(const MaxPool2dGeometry& g) { return g.batch * g.height * g.width * g.channels; }
size_t output_size(const MaxPool2dGeometry& g) { return g.batch * g.out_height() * g.out_width() * g.channels; }

// The header's formula evaluated literally, independent of im2col:
//   y[n, i, j, o] = Σ_{a, b, c} x[n, i + a - pad_h, j + b - pad_w, c] · w[o, a, b, c]
std::vector<double> direct_conv(const std::vector<double>& x, const std::vector<double>& w, const Conv2dGeometry& g) {
  const int64_t oh = g.out_height(), ow = g.out_width();
  std::vector<double> y(output_size(g));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j)
        for (int64_t o = 0; o < g.out_channels; ++o) {
          double s = 0;
          for (int64_t a = 0; a < g.kernel_h; ++a)
            for (int64_t b = 0; b < g.kernel_w; ++b)
              for (int64_t c = 0; c < g.in_channels; ++c) {
                const int64_t h = i + a - g.pad_h, v = j + b - g.pad_w;
                if (h < 0 || h >= g.height || v < 0 || v >= g.width) continue;
                s += x[((n * g.height + h) * g.width + v) * g.in_channels + c] *
                     w[((o * g.kernel_h + a) * g.kernel_w + b) * g.in_channels + c];
              }
          y[((n * oh + i) * ow + j) * g.out_channels + o] = s;
        }
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2D forward values

TEST(Conv2dReference, HandComputedValidAndSame) {
  // x = [[1 2 3] [4 5 6] [7 8 9]], one channel.
  const std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  {
    // "valid" 2x2 kernel [[1 2] [3 4]]: y[0,0] = 1·1 + 2·2 + 3·4 + 4·5. An asymmetric kernel tells a
    // cross-correlation (Keras) from a true convolution (which would give 23 here).
    const std::vector<double> w = {1, 2, 3, 4};
    const Conv2dGeometry g = conv_geometry(1, 3, 3, 1, 1, 2, 2, 0, 0);
    std::vector<double> y(4, NAN);
    ref::conv2d_forward(x.data(), w.data(), y.data(), g);
    EXPECT_EQ(y, (std::vector<double>{37, 47, 67, 77}));
  }
  {
    // "same" 3x3 "plus" kernel: each output sums the pixel and its in-image 4-neighbours (zero padding outside).
    const std::vector<double> w = {0, 1, 0, 1, 1, 1, 0, 1, 0};
    const Conv2dGeometry g = conv_geometry(1, 3, 3, 1, 1, 3, 3, 1, 1);
    std::vector<double> y(9, NAN);
    ref::conv2d_forward(x.data(), w.data(), y.data(), g);
    EXPECT_EQ(y, (std::vector<double>{7, 11, 11, 17, 25, 23, 19, 29, 23}));
  }
  {
    // 1x1 kernel over two channels is a per-pixel product with w[out, in]: pins down the channel layout.
    const std::vector<double> x2 = {1, 2, 3, 4};  // 1x1x2 image, pixels (1, 2) and (3, 4)
    const std::vector<double> w = {1, 10, 100, 1000};
    const Conv2dGeometry g = conv_geometry(1, 1, 2, 2, 2, 1, 1, 0, 0);
    std::vector<double> y(4, NAN);
    ref::conv2d_forward(x2.data(), w.data(), y.data(), g);
    EXPECT_EQ(y, (std::vector<double>{21, 2100, 43, 4300}));
  }
}

TEST(Conv2dReference, TensorForwardAddsBiasAndRelu) {
  Tensor x = make_tensor({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1}, Device::CPU);
  Tensor w = make_tensor({1, 2, 3, 4}, {1, 2, 2, 1}, Device::CPU);
  Tensor b = make_tensor({-40}, {1}, Device::CPU);
  Tensor y = poisoned({1, 2, 2, 1}, Device::CPU);
  conv2d_forward(x, w, b, y, 0, 0, Activation::ReLU, nullptr);
  EXPECT_EQ(y.to_vector(), (std::vector<float>{0, 7, 27, 37}));  // relu(37 - 40) = 0
  conv2d_forward(x, w, b, y, 0, 0, Activation::None, nullptr);
  EXPECT_EQ(y.to_vector(), (std::vector<float>{-3, 7, 27, 37}));
}

// im2col + matmul against the formula itself, over kernels, paddings (also asymmetric and non-square) and channels.
TEST(Conv2dReference, MatchesDirectFormula) {
  const std::vector<Conv2dGeometry> cases = {
      conv_geometry(2, 7, 6, 3, 4, 3, 3, 1, 1), conv_geometry(2, 7, 6, 3, 4, 3, 3, 0, 0),
      conv_geometry(2, 7, 6, 1, 2, 5, 5, 2, 2), conv_geometry(2, 7, 6, 3, 2, 5, 5, 0, 0),
      conv_geometry(2, 7, 6, 3, 4, 1, 1, 0, 0), conv_geometry(1, 5, 4, 2, 3, 3, 1, 1, 0),
      conv_geometry(1, 4, 5, 2, 3, 2, 3, 2, 1),
  };
  std::mt19937 rng(21);
  for (const Conv2dGeometry& g : cases) {
    SCOPED_TRACE("kernel " + std::to_string(g.kernel_h) + "x" + std::to_string(g.kernel_w) + ", pad " +
                 std::to_string(g.pad_h) + "," + std::to_string(g.pad_w));
    auto x = random_doubles(input_size(g), rng), w = random_doubles(kernel_size(g), rng);
    std::vector<double> y(output_size(g), NAN);
    ref::conv2d_forward(x.data(), w.data(), y.data(), g);
    const std::vector<double> expected = direct_conv(x, w, g);
    for (size_t k = 0; k < y.size(); ++k) ASSERT_NEAR(y[k], expected[k], 1e-12) << "element " << k;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Conv2D gradients: L = Σ r ⊙ act(conv(x, w) + b), checked with respect to x, w and b.

struct ConvCase {
  int64_t kernel, in, out;
  bool same;  // "same" pads (k - 1) / 2, "valid" pads 0
  Activation act;
};

std::string case_name(const ConvCase& c) {
  return std::to_string(c.kernel) + "x" + std::to_string(c.kernel) + (c.same ? " same" : " valid") + ", in " +
         std::to_string(c.in) + ", out " + std::to_string(c.out) + ", " + activation_name(c.act);
}

// The reference backward pass, as conv2d_backward composes it.
struct ConvGradients {
  std::vector<double> dx, dw, db;
};
ConvGradients conv_backward(const std::vector<double>& x, const std::vector<double>& w, const std::vector<double>& y,
                            std::vector<double> dy, const Conv2dGeometry& g, Activation act) {
  ConvGradients grads{std::vector<double>(input_size(g), NAN), std::vector<double>(kernel_size(g), NAN),
                      std::vector<double>(g.out_channels, NAN)};
  const int64_t rows = g.batch * g.out_height() * g.out_width();
  ref::bias_activation_backward(y.data(), dy.data(), grads.db.data(), rows, g.out_channels, act);
  ref::conv2d_backward_filter(x.data(), dy.data(), grads.dw.data(), g);
  ref::conv2d_backward_data(dy.data(), w.data(), grads.dx.data(), g);
  return grads;
}

void check_conv(const ConvCase& c) {
  SCOPED_TRACE(case_name(c));
  const int64_t pad = c.same ? (c.kernel - 1) / 2 : 0;
  const Conv2dGeometry g = conv_geometry(2, 7, 6, c.in, c.out, c.kernel, c.kernel, pad, pad);
  const int64_t rows = g.batch * g.out_height() * g.out_width();
  std::mt19937 rng(static_cast<unsigned>(100 * c.kernel + 10 * c.in + c.out + (c.same ? 7 : 0)));
  auto x = random_doubles(input_size(g), rng), w = random_doubles(kernel_size(g), rng),
       b = random_doubles(g.out_channels, rng, -0.5, 0.5), r = random_doubles(output_size(g), rng);
  std::vector<double> y(output_size(g));
  auto forward = [&] {
    ref::conv2d_forward(x.data(), w.data(), y.data(), g);
    ref::bias_activation_forward(y.data(), b.data(), rows, g.out_channels, c.act);
  };
  auto loss = [&] {
    forward();
    return dot(y, r);
  };
  if (c.act == Activation::ReLU) {  // keep every pre-activation clear of the kink so differences never straddle it
    std::vector<double> z(output_size(g));
    ref::conv2d_forward(x.data(), w.data(), z.data(), g);
    for (size_t k = 0; k < z.size(); ++k)
      ASSERT_GT(std::fabs(z[k] + b[k % g.out_channels]), 1e-4) << "resample: kink at " << k;
    size_t active = 0;
    for (size_t k = 0; k < z.size(); ++k) active += z[k] + b[k % g.out_channels] > 0;
    ASSERT_GT(active, 0u) << "every unit is off: the check would pass on zeros";
    ASSERT_LT(active, z.size()) << "no unit is off: ReLU's mask goes unchecked";
  }
  forward();
  ConvGradients grads = conv_backward(x, w, y, r, g, c.act);
  EXPECT_TRUE(check_gradient(x, loss, grads.dx, "conv2d input"));
  EXPECT_TRUE(check_gradient(w, loss, grads.dw, "conv2d kernel"));
  EXPECT_TRUE(check_gradient(b, loss, grads.db, "conv2d bias"));
}

TEST(Conv2dGradientCheck, Kernel3x3) {
  for (bool same : {true, false})
    for (int64_t in : {1, 3})
      for (int64_t out : {2, 4}) check_conv({3, in, out, same, Activation::None});
}

TEST(Conv2dGradientCheck, Kernel1x1) {
  for (int64_t in : {1, 3}) check_conv({1, in, 4, false, Activation::None});
}

TEST(Conv2dGradientCheck, Kernel5x5) {
  for (bool same : {true, false}) check_conv({5, 3, 2, same, Activation::None});
  check_conv({5, 1, 4, true, Activation::None});
}

TEST(Conv2dGradientCheck, WithFusedRelu) {
  check_conv({3, 3, 4, true, Activation::ReLU});
  check_conv({3, 1, 2, false, Activation::ReLU});
  check_conv({5, 3, 2, true, Activation::ReLU});
}

// The check has teeth against classic convolution bugs: backward data with the kernel flipped (the gradient of a
// true convolution rather than of Keras's cross-correlation), and a filter gradient that misses part of the batch.
TEST(Conv2dGradientCheck, CheckerRejectsFlippedKernelAndPartialBatch) {
  const Conv2dGeometry g = conv_geometry(2, 7, 6, 3, 2, 3, 3, 1, 1);
  std::mt19937 rng(99);
  auto x = random_doubles(input_size(g), rng), w = random_doubles(kernel_size(g), rng),
       r = random_doubles(output_size(g), rng);
  std::vector<double> y(output_size(g));
  auto loss = [&] {
    ref::conv2d_forward(x.data(), w.data(), y.data(), g);
    return dot(y, r);
  };
  std::vector<double> flipped(w.size());
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t a = 0; a < 3; ++a)
      for (int64_t b = 0; b < 3; ++b)
        for (int64_t c = 0; c < g.in_channels; ++c)
          flipped[((o * 3 + a) * 3 + b) * g.in_channels + c] = w[((o * 3 + (2 - a)) * 3 + (2 - b)) * g.in_channels + c];
  std::vector<double> wrong_dx(x.size());
  ref::conv2d_backward_data(r.data(), flipped.data(), wrong_dx.data(), g);
  EXPECT_FALSE(check_gradient(x, loss, wrong_dx, "planted: flipped kernel"));

  // A filter gradient that accumulates over the first image of the batch only.
  std::vector<double> right_dw(w.size()), wrong_dw(w.size());
  ref::conv2d_backward_filter(x.data(), r.data(), right_dw.data(), g);
  EXPECT_TRUE(check_gradient(w, loss, right_dw, "conv2d kernel"));
  Conv2dGeometry first_image = g;
  first_image.batch = 1;
  ref::conv2d_backward_filter(x.data(), r.data(), wrong_dw.data(), first_image);
  EXPECT_FALSE(check_gradient(w, loss, wrong_dw, "planted: first image only"));
}

// ---------------------------------------------------------------------------------------------------------------
// MaxPool2D

TEST(MaxPool2dReference, HandComputed) {
  const std::vector<double> x = {1, 5, 2, 0,  //
                                 3, 4, 8, 1,  //
                                 9, 2, 6, 7,  //
                                 0, 1, 3, 5};
  const MaxPool2dGeometry g = pool_geometry(1, 4, 4, 1, 2, 2);
  std::vector<double> y(4, NAN);
  ref::max_pool2d_forward(x.data(), y.data(), g);
  EXPECT_EQ(y, (std::vector<double>{5, 8, 9, 7}));
  const std::vector<double> dy = {1, 2, 3, 4};
  std::vector<double> dx(16, NAN);
  ref::max_pool2d_backward(x.data(), dy.data(), dx.data(), g);
  EXPECT_EQ(dx, (std::vector<double>{0, 1, 0, 0,  //
                                     0, 0, 2, 0,  //
                                     3, 0, 0, 4,  //
                                     0, 0, 0, 0}));

  // The same through the Tensor entry point, with an odd size: the last row and column are dropped (floor).
  std::vector<float> x5(25);
  std::iota(x5.begin(), x5.end(), 0.f);  // x[h, w] = 5h + w: each window's maximum is its bottom-right corner
  Tensor tx = make_tensor(x5, {1, 5, 5, 1}, Device::CPU), ty = poisoned({1, 2, 2, 1}, Device::CPU);
  max_pool2d_forward(tx, ty, 2, 2, 2, 2, nullptr);
  EXPECT_EQ(ty.to_vector(), (std::vector<float>{6, 8, 16, 18}));
}

// Random inputs, with every window's maximum clear of its runner-up by more than the difference step, so the loss
// is differentiable at x and the central difference sees one side only.
void check_pool(int64_t h, int64_t w, int64_t pool, int64_t stride, int64_t expected_oh, int64_t expected_ow) {
  SCOPED_TRACE("pool " + std::to_string(pool) + " stride " + std::to_string(stride) + " on " + std::to_string(h) + "x" +
               std::to_string(w));
  const MaxPool2dGeometry g = pool_geometry(2, h, w, 3, pool, stride);
  ASSERT_EQ(g.out_height(), expected_oh);
  ASSERT_EQ(g.out_width(), expected_ow);
  std::mt19937 rng(static_cast<unsigned>(h * 100 + w * 10 + pool));
  auto x = random_doubles(input_size(g), rng), r = random_doubles(output_size(g), rng);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t i = 0; i < g.out_height(); ++i)
      for (int64_t j = 0; j < g.out_width(); ++j)
        for (int64_t c = 0; c < g.channels; ++c) {
          std::vector<double> window;
          for (int64_t a = 0; a < pool; ++a)
            for (int64_t b = 0; b < pool; ++b)
              window.push_back(x[((n * h + i * stride + a) * w + j * stride + b) * g.channels + c]);
          std::sort(window.rbegin(), window.rend());
          ASSERT_GT(window[0] - window[1], 1e-4) << "resample: near-tie in a window";
        }
  std::vector<double> y(output_size(g));
  auto loss = [&] {
    ref::max_pool2d_forward(x.data(), y.data(), g);
    return dot(y, r);
  };
  std::vector<double> dx(x.size(), NAN);
  ref::max_pool2d_backward(x.data(), r.data(), dx.data(), g);
  EXPECT_TRUE(check_gradient(x, loss, dx, "max_pool2d input"));
}

TEST(MaxPool2dGradientCheck, Pool2Stride2OddSize) { check_pool(7, 5, 2, 2, 3, 2); }
TEST(MaxPool2dGradientCheck, OverlappingPool3Stride2) {
  check_pool(7, 5, 3, 2, 3, 2);
  check_pool(7, 7, 3, 2, 3, 3);
}

// Ties: max is not differentiable there, and the rule (TensorFlow's) is that the whole gradient goes to the first
// maximum in row-major window order. That is a valid subgradient: for the convex y = max(window), a gradient g
// must satisfy g·d <= y'(x; d) for every direction d. Along ±e_t for a tied element t the one-sided derivatives
// are +1 (raising t raises the max) and 0 (lowering t leaves the others as the max); g = e_first satisfies both
// for every tied t, and routes the whole dy, so nothing is lost or duplicated.
TEST(MaxPool2dReference, TiesGoToTheFirstMaximum) {
  // 1x4x4x2: in channel 0 every 2x2 window is constant; in channel 1 only the top-right and bottom-left elements
  // of each window tie for the maximum, so "first" is the top-right one.
  const MaxPool2dGeometry g = pool_geometry(1, 4, 4, 2, 2, 2);
  std::vector<double> x(input_size(g));
  auto at = [&](int64_t h, int64_t w, int64_t c) -> double& { return x[(h * 4 + w) * 2 + c]; };
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t w = 0; w < 4; ++w) {
      const double base = 1 + (h / 2) * 2 + (w / 2);  // 1, 2, 3, 4 per window
      at(h, w, 0) = base;
      const bool off_diagonal = (h % 2) != (w % 2);
      at(h, w, 1) = off_diagonal ? base : base - 0.5;
    }
  std::vector<double> y(output_size(g));
  ref::max_pool2d_forward(x.data(), y.data(), g);
  EXPECT_EQ(y, (std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4}));

  const std::vector<double> dy = {0.5, -1.5, 2.0, 0.25, -3.0, 1.0, 4.0, -0.75};
  std::vector<double> dx(x.size(), NAN);
  ref::max_pool2d_backward(x.data(), dy.data(), dx.data(), g);
  for (int64_t h = 0; h < 4; ++h)
    for (int64_t w = 0; w < 4; ++w)
      for (int64_t c = 0; c < 2; ++c) {
        const int64_t out = ((h / 2) * 2 + (w / 2)) * 2 + c;
        const bool first = c == 0 ? (h % 2 == 0 && w % 2 == 0) : (h % 2 == 0 && w % 2 == 1);
        EXPECT_EQ(dx[(h * 4 + w) * 2 + c], first ? dy[out] : 0.0) << "h " << h << " w " << w << " c " << c;
      }
  EXPECT_DOUBLE_EQ(std::accumulate(dx.begin(), dx.end(), 0.0), std::accumulate(dy.begin(), dy.end(), 0.0));

  // One-sided derivatives of each output along ±e_t for every tied element t, against the routed gradient
  // (the backward pass with dy = 1 at that output only).
  const double step = 1e-3;
  for (int64_t out = 0; out < static_cast<int64_t>(y.size()); ++out) {
    std::vector<double> one_hot(y.size(), 0.0), g_out(x.size());
    one_hot[out] = 1.0;
    ref::max_pool2d_backward(x.data(), one_hot.data(), g_out.data(), g);
    for (size_t t = 0; t < x.size(); ++t) {
      const int64_t e = static_cast<int64_t>(t), h = e / 8, w = (e / 2) % 4, c = e % 2;  // t = (h·4 + w)·2 + c
      const bool in_window = ((h / 2) * 2 + (w / 2)) * 2 + c == out;
      if (!in_window || x[t] != y[out]) {
        EXPECT_EQ(g_out[t], 0.0) << "gradient outside the maxima, element " << t;
        continue;
      }
      std::vector<double> shifted(y.size());
      const double saved = x[t];
      x[t] = saved + step;
      ref::max_pool2d_forward(x.data(), shifted.data(), g);
      const double right = (shifted[out] - y[out]) / step;
      x[t] = saved - step;
      ref::max_pool2d_forward(x.data(), shifted.data(), g);
      const double left = (y[out] - shifted[out]) / step;  // derivative from the left; -left is y'(x; -e_t)
      x[t] = saved;
      EXPECT_NEAR(right, 1.0, 1e-9) << "raising a tied maximum raises the output, element " << t;
      EXPECT_NEAR(left, 0.0, 1e-9) << "lowering one of several maxima leaves the output, element " << t;
      EXPECT_LE(g_out[t], right + 1e-12) << "subgradient along +e_t, element " << t;
      EXPECT_GE(g_out[t], left - 1e-12) << "subgradient along -e_t, element " << t;
    }
    EXPECT_DOUBLE_EQ(std::accumulate(g_out.begin(), g_out.end(), 0.0), 1.0) << "output " << out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Shape checks at the Tensor entry points: the message names the op and the shapes at fault.

void expect_error_mentions(const std::function<void()>& call, const std::vector<std::string>& parts) {
  try {
    call();
    ADD_FAILURE() << "no loom::Error thrown";
  } catch (const Error& e) {
    const std::string message = e.what();
    for (const std::string& part : parts)
      EXPECT_NE(message.find(part), std::string::npos) << "message \"" << message << "\" lacks \"" << part << "\"";
  }
}

TEST(Conv2dShapes, RejectsMismatchedShapes) {
  const Device cpu = Device::CPU;
  Tensor x = Tensor::zeros({2, 7, 6, 3}, cpu), w = Tensor::zeros({4, 3, 3, 3}, cpu), b = Tensor::zeros({4}, cpu);
  Tensor y_same = Tensor::zeros({2, 7, 6, 4}, cpu), y_valid = Tensor::zeros({2, 5, 4, 4}, cpu);
  conv2d_forward(x, w, b, y_same, 1, 1, Activation::ReLU, nullptr);  // the shapes that fit do pass
  conv2d_forward(x, w, b, y_valid, 0, 0, Activation::None, nullptr);

  expect_error_mentions([&] { conv2d_forward(x, w, b, y_valid, 1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "(2, 5, 4, 4)", "(2, 7, 6, 4)"});
  Tensor w_bad = Tensor::zeros({4, 3, 3, 2}, cpu);
  expect_error_mentions([&] { conv2d_forward(x, w_bad, b, y_same, 1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "(2, 7, 6, 3)", "(4, 3, 3, 2)"});
  Tensor x_rank3 = Tensor::zeros({7, 6, 3}, cpu);
  expect_error_mentions([&] { conv2d_forward(x_rank3, w, b, y_same, 1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "(7, 6, 3)"});
  Tensor b_bad = Tensor::zeros({3}, cpu);
  expect_error_mentions([&] { conv2d_forward(x, w, b_bad, y_same, 1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "bias", "(3,)", "(4,)"});
  Tensor w_big = Tensor::zeros({4, 9, 3, 3}, cpu);
  expect_error_mentions([&] { conv2d_forward(x, w_big, b, y_valid, 0, 0, Activation::None, nullptr); },
                        {"conv2d_forward", "(2, 7, 6, 3)", "(4, 9, 3, 3)"});
  expect_error_mentions([&] { conv2d_forward(x, w, b, y_same, -1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "negative padding"});
  expect_error_mentions([&] { conv2d_forward(x, w, b, y_same, 1, 1, Activation::Softmax, nullptr); },
                        {"conv2d_forward", "softmax"});

  Tensor dy = Tensor::zeros({2, 7, 6, 4}, cpu), dx = Tensor::zeros({2, 7, 6, 3}, cpu),
         dw = Tensor::zeros({4, 3, 3, 3}, cpu), db = Tensor::zeros({4}, cpu), dw_bad = Tensor::zeros({4, 3, 3, 2}, cpu);
  conv2d_backward(x, w, y_same, dy, 1, 1, Activation::ReLU, &dx, dw, db, nullptr);
  conv2d_backward(x, w, y_same, dy, 1, 1, Activation::ReLU, nullptr, dw, db, nullptr);
  expect_error_mentions([&] { conv2d_backward(x, w, y_same, dy, 1, 1, Activation::None, &dx, dw_bad, db, nullptr); },
                        {"conv2d_backward", "(4, 3, 3, 2)", "(4, 3, 3, 3)"});
  Tensor dx_bad = Tensor::zeros({2, 7, 6, 4}, cpu);
  expect_error_mentions([&] { conv2d_backward(x, w, y_same, dy, 1, 1, Activation::None, &dx_bad, dw, db, nullptr); },
                        {"conv2d_backward", "(2, 7, 6, 4)", "(2, 7, 6, 3)"});
}

TEST(MaxPool2dShapes, RejectsMismatchedShapes) {
  const Device cpu = Device::CPU;
  Tensor x = Tensor::zeros({2, 7, 5, 3}, cpu), y = Tensor::zeros({2, 3, 2, 3}, cpu);
  max_pool2d_forward(x, y, 2, 2, 2, 2, nullptr);
  max_pool2d_forward(x, y, 3, 3, 2, 2, nullptr);
  Tensor y_bad = Tensor::zeros({2, 4, 3, 3}, cpu);
  expect_error_mentions([&] { max_pool2d_forward(x, y_bad, 2, 2, 2, 2, nullptr); },
                        {"max_pool2d_forward", "(2, 4, 3, 3)", "(2, 3, 2, 3)"});
  Tensor x_rank2 = Tensor::zeros({7, 5}, cpu);
  expect_error_mentions([&] { max_pool2d_forward(x_rank2, y, 2, 2, 2, 2, nullptr); }, {"max_pool2d_forward", "(7, 5)"});
  expect_error_mentions([&] { max_pool2d_forward(x, y, 6, 6, 2, 2, nullptr); },
                        {"max_pool2d_forward", "(2, 7, 5, 3)", "larger"});
  expect_error_mentions([&] { max_pool2d_forward(x, y, 2, 2, 0, 2, nullptr); }, {"max_pool2d_forward", "stride"});

  Tensor dy = Tensor::zeros({2, 3, 2, 3}, cpu), dx = Tensor::zeros({2, 7, 5, 3}, cpu);
  max_pool2d_backward(x, y, dy, dx, 2, 2, 2, 2, nullptr);
  Tensor dx_bad = Tensor::zeros({2, 6, 5, 3}, cpu);
  expect_error_mentions([&] { max_pool2d_backward(x, y, dy, dx_bad, 2, 2, 2, 2, nullptr); },
                        {"max_pool2d_backward", "(2, 6, 5, 3)", "(2, 7, 5, 3)"});
}

// On CUDA the ops need a plan made for the geometry; without one they say so instead of falling back to the CPU.
TEST(Conv2dShapes, CudaWithoutPlanIsAnError) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const Device dev = Device::CUDA;
  Tensor x = Tensor::zeros({2, 7, 6, 3}, dev), w = Tensor::zeros({4, 3, 3, 3}, dev), b = Tensor::zeros({4}, dev);
  Tensor y = Tensor::zeros({2, 7, 6, 4}, dev);
  expect_error_mentions([&] { conv2d_forward(x, w, b, y, 1, 1, Activation::None, nullptr); },
                        {"conv2d_forward", "Conv2dPlan"});
  Tensor py = Tensor::zeros({2, 3, 3, 3}, dev);
  expect_error_mentions([&] { max_pool2d_forward(x, py, 2, 2, 2, 2, nullptr); },
                        {"max_pool2d_forward", "MaxPool2dPlan"});
}

}  // namespace
}  // namespace loom::test
