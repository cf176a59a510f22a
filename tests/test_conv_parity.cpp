// Conv2D and MaxPool2D on every device against the double reference, at the batch sizes a model meets: 1 (predict
// on one image), a partial batch, and a training batch. On CUDA each call goes through a cuDNN plan made for that
// batch size, as the layers do.
#include <memory>

#include <gtest/gtest.h>

#include "kernels/bias_activation.h"
#include "kernels/conv2d.h"
#include "kernels/max_pool2d.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

template <class Tag>
class ConvParity : public DeviceTest<Tag> {};
TYPED_TEST_SUITE(ConvParity, AllDevices, DeviceNames);

struct ConvCase {
  int64_t h, w, in, out, kh, kw, pad_h, pad_w;
};

TYPED_TEST(ConvParity, Conv2dForwardAndBackward) {
  const Device dev = TestFixture::device;
  const ConvCase cases[] = {
      {28, 28, 1, 8, 3, 3, 0, 0},
      {13, 13, 8, 16, 3, 3, 0, 0},
      {9, 7, 3, 5, 3, 3, 1, 1},
      {6, 6, 4, 4, 5, 5, 2, 2},
      // Non-square kernels on non-square images, where swapping height and width anywhere (descriptor, filter
      // layout, padding) shows: "same" for 3×5 is pad (1, 2); 5×1 with pad (2, 0); "valid" 3×5 (pad 0); a 1×4
      // kernel (even width) with pad (0, 1); 2×3 (even height) with pad (1, 0).
      {12, 10, 3, 6, 3, 5, 1, 2},
      {9, 11, 4, 5, 5, 1, 2, 0},
      {10, 8, 5, 7, 3, 5, 0, 0},
      {7, 16, 2, 3, 1, 4, 0, 1},
      {5, 9, 3, 4, 2, 3, 1, 0},
  };
  for (const ConvCase& c : cases)
    for (int64_t n : {1, 7, 32}) {
      SCOPED_TRACE("conv " + std::to_string(c.h) + "x" + std::to_string(c.w) + "x" + std::to_string(c.in) + " -> " +
                   std::to_string(c.out) + " kernel " + std::to_string(c.kh) + "x" + std::to_string(c.kw) + " pad (" +
                   std::to_string(c.pad_h) + ", " + std::to_string(c.pad_w) + "), batch " + std::to_string(n));
      Conv2dGeometry g{n, c.h, c.w, c.in, c.out, c.kh, c.kw, c.pad_h, c.pad_w};
      const int64_t oh = g.out_height(), ow = g.out_width();
      std::mt19937 rng(static_cast<unsigned>(n * 131 + c.h * 7 + c.in + c.kw * 1009));
      auto x = random_floats(n * c.h * c.w * c.in, rng), w = random_floats(c.out * c.kh * c.kw * c.in, rng),
           b = random_floats(c.out, rng), dy = random_floats(n * oh * ow * c.out, rng);
      std::unique_ptr<cuda::Conv2dPlan> plan;
      if (dev == Device::CUDA) plan = std::make_unique<cuda::Conv2dPlan>(g, "conv_under_test");
      Tensor tx = make_tensor(x, {n, c.h, c.w, c.in}, dev), tw = make_tensor(w, {c.out, c.kh, c.kw, c.in}, dev),
             tb = make_tensor(b, {c.out}, dev), ty = poisoned({n, oh, ow, c.out}, dev);
      conv2d_forward(tx, tw, tb, ty, c.pad_h, c.pad_w, Activation::ReLU, plan.get());

      auto xd = to_double(x), wd = to_double(w), bd = to_double(b), dzd = to_double(dy);
      std::vector<double> yd(n * oh * ow * c.out), dxd(x.size()), dwd(w.size()), dbd(c.out);
      ref::conv2d_forward(xd.data(), wd.data(), yd.data(), g);
      ref::bias_activation_forward(yd.data(), bd.data(), n * oh * ow, c.out, Activation::ReLU);
      // Sums of up to kh·kw·in = 100 products of values in [-1, 1].
      EXPECT_TRUE(all_close(ty.to_vector(), yd, 1e-5, 1e-4, "conv output"));

      Tensor tdy = make_tensor(dy, {n, oh, ow, c.out}, dev), tdx = poisoned({n, c.h, c.w, c.in}, dev),
             tdw = poisoned({c.out, c.kh, c.kw, c.in}, dev), tdb = poisoned({c.out}, dev);
      conv2d_backward(tx, tw, ty, tdy, c.pad_h, c.pad_w, Activation::ReLU, &tdx, tdw, tdb, plan.get());
      ref::bias_activation_backward(yd.data(), dzd.data(), dbd.data(), n * oh * ow, c.out, Activation::ReLU);
      ref::conv2d_backward_filter(xd.data(), dzd.data(), dwd.data(), g);
      ref::conv2d_backward_data(dzd.data(), wd.data(), dxd.data(), g);
      // The filter and bias gradients sum over n·oh·ow positions (up to 21,632): a looser relative bound.
      EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 1e-5, 1e-4, "conv input gradient"));
      EXPECT_TRUE(all_close(tdw.to_vector(), dwd, 1e-4, 1e-3, "conv kernel gradient"));
      EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-4, 1e-3, "conv bias gradient"));
    }
}

TYPED_TEST(ConvParity, MaxPool2dForwardAndBackward) {
  const Device dev = TestFixture::device;
  struct PoolCase {
    int64_t h, w, c, pool_h, pool_w, stride_h, stride_w;
  };
  const PoolCase cases[] = {
      {26, 26, 8, 2, 2, 2, 2},
      {11, 11, 8, 2, 2, 2, 2},
      {7, 5, 3, 3, 3, 2, 2},
      // Non-square windows and strides on non-square images: 2×3 overlapping along the width (stride (2, 1)); 3×1
      // with stride (3, 1), the last rows dropped by the floor; 1×2 with a stride wider than the window (columns
      // skipped, their gradient 0); 3×2 with stride (2, 3), overlapping in height and with gaps in width.
      {9, 10, 4, 2, 3, 2, 1},
      {11, 6, 3, 3, 1, 3, 1},
      {6, 9, 5, 1, 2, 1, 3},
      {10, 9, 3, 3, 2, 2, 3},
  };
  for (const PoolCase& p : cases)
    for (int64_t n : {1, 7, 32}) {
      SCOPED_TRACE("pool " + std::to_string(p.h) + "x" + std::to_string(p.w) + " window " + std::to_string(p.pool_h) +
                   "x" + std::to_string(p.pool_w) + " strides (" + std::to_string(p.stride_h) + ", " +
                   std::to_string(p.stride_w) + "), batch " + std::to_string(n));
      MaxPool2dGeometry g{n, p.h, p.w, p.c, p.pool_h, p.pool_w, p.stride_h, p.stride_w};
      const int64_t oh = g.out_height(), ow = g.out_width();
      std::mt19937 rng(static_cast<unsigned>(n * 17 + p.h + p.pool_w * 101));
      auto x = random_floats(n * p.h * p.w * p.c, rng), dy = random_floats(n * oh * ow * p.c, rng);
      std::unique_ptr<cuda::MaxPool2dPlan> plan;
      if (dev == Device::CUDA) plan = std::make_unique<cuda::MaxPool2dPlan>(g, "pool_under_test");
      Tensor tx = make_tensor(x, {n, p.h, p.w, p.c}, dev), ty = poisoned({n, oh, ow, p.c}, dev);
      max_pool2d_forward(tx, ty, p.pool_h, p.pool_w, p.stride_h, p.stride_w, plan.get());
      auto xd = to_double(x), dyd = to_double(dy);
      std::vector<double> yd(n * oh * ow * p.c), dxd(x.size());
      ref::max_pool2d_forward(xd.data(), yd.data(), g);
      EXPECT_TRUE(all_close(ty.to_vector(), yd, 0, 0, "pooled output"));  // a max is exact
      Tensor tdy = make_tensor(dy, {n, oh, ow, p.c}, dev), tdx = poisoned({n, p.h, p.w, p.c}, dev);
      max_pool2d_backward(tx, ty, tdy, tdx, p.pool_h, p.pool_w, p.stride_h, p.stride_w, plan.get());
      ref::max_pool2d_backward(xd.data(), dyd.data(), dxd.data(), g);
      EXPECT_TRUE(all_close(tdx.to_vector(), dxd, 1e-6, 1e-6, "pooling input gradient"));  // sums where overlapping
    }
}

// The bias gradient of a convolution sums over many rows; the GPU takes a tiled path there.
TYPED_TEST(ConvParity, BiasGradientOverManyRows) {
  const Device dev = TestFixture::device;
  const int64_t rows = 32 * 26 * 26, cols = 64;
  std::mt19937 rng(5);
  auto y = random_floats(rows * cols, rng), dy = random_floats(rows * cols, rng);
  Tensor ty = make_tensor(y, {rows, cols}, dev), tdy = make_tensor(dy, {rows, cols}, dev), tdb = poisoned({cols}, dev);
  bias_activation_backward(ty, tdy, tdb, Activation::ReLU);
  auto yd = to_double(y), dyd = to_double(dy);
  std::vector<double> dbd(cols);
  ref::bias_activation_backward(yd.data(), dyd.data(), dbd.data(), rows, cols, Activation::ReLU);
  EXPECT_TRUE(all_close(tdy.to_vector(), dyd, 0, 0, "masked gradient"));
  EXPECT_TRUE(all_close(tdb.to_vector(), dbd, 1e-3, 1e-4, "bias gradient over 21,632 rows"));
}

}  // namespace
}  // namespace loom::test
