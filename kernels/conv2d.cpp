#include "kernels/conv2d.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/bias_activation.h"
#include "kernels/plan_check.h"

namespace loom {

bool Conv2dGeometry::operator==(const Conv2dGeometry& o) const {
  return batch == o.batch && height == o.height && width == o.width && in_channels == o.in_channels &&
         out_channels == o.out_channels && kernel_h == o.kernel_h && kernel_w == o.kernel_w && pad_h == o.pad_h &&
         pad_w == o.pad_w;
}

namespace {

std::string geometry_str(const Conv2dGeometry& g) {
  return "input " + shape_str({g.batch, g.height, g.width, g.in_channels}) + ", kernel " +
         shape_str({g.out_channels, g.kernel_h, g.kernel_w, g.in_channels}) + ", padding (" + std::to_string(g.pad_h) +
         ", " + std::to_string(g.pad_w) + ")";
}

}  // namespace

Conv2dGeometry conv2d_geometry(const Tensor& x, const Tensor& w, const Tensor& y, int64_t pad_h, int64_t pad_w,
                               const char* op) {
  // Messages are built only when thrown: this check runs on every call.
  auto where = [&] { return std::string(op) + ": "; };
  auto shapes = [&] { return "input " + shape_str(x.shape()) + ", kernel " + shape_str(w.shape()); };
  if (x.dtype() != DType::F32 || w.dtype() != DType::F32 || y.dtype() != DType::F32)
    throw Error(where() + "expects float32 tensors (" + shapes() + ")");
  if (x.rank() != 4 || w.rank() != 4)
    throw Error(where() + "expects input [n, h, w, in] and kernel [out, kh, kw, in], got " + shapes());
  if (x.dim(3) != w.dim(3))
    throw Error(where() + shapes() + " disagree on input channels (" + std::to_string(x.dim(3)) + " vs " +
                std::to_string(w.dim(3)) + ")");
  if (pad_h < 0 || pad_w < 0)
    throw Error(where() + "negative padding (" + std::to_string(pad_h) + ", " + std::to_string(pad_w) + ") for " +
                shapes());
  Conv2dGeometry g;
  g.batch = x.dim(0);
  g.height = x.dim(1);
  g.width = x.dim(2);
  g.in_channels = x.dim(3);
  g.out_channels = w.dim(0);
  g.kernel_h = w.dim(1);
  g.kernel_w = w.dim(2);
  g.pad_h = pad_h;
  g.pad_w = pad_w;
  if (g.batch < 1 || g.in_channels < 1 || g.out_channels < 1 || g.kernel_h < 1 || g.kernel_w < 1 ||
      g.out_height() < 1 || g.out_width() < 1)
    throw Error(where() + "no output for " + geometry_str(g) + " (empty tensor, or kernel larger than padded input)");
  if (!has_shape(y, {g.batch, g.out_height(), g.out_width(), g.out_channels}))
    throw Error(where() + "output has shape " + shape_str(y.shape()) + ", expected " +
                shape_str({g.batch, g.out_height(), g.out_width(), g.out_channels}) + " for " + geometry_str(g));
  return g;
}

namespace {

void check_not_softmax(Activation act, const char* op) {
  if (act == Activation::Softmax)
    throw Error(std::string(op) + ": softmax cannot follow a convolution in its epilogue (it is a row operation)");
}

}  // namespace

void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, int64_t pad_h, int64_t pad_w,
                    Activation act, const cuda::Conv2dPlan* plan) {
  const char* op = "conv2d_forward";
  const Conv2dGeometry g = conv2d_geometry(x, w, y, pad_h, pad_w, op);
  expect_shape(b, {g.out_channels}, op, "bias");
  expect_same_device(op, {&x, &w, &b, &y});
  check_not_softmax(act, op);
  if (x.device() == Device::CUDA)
    checked_plan(plan, g, op, "Conv2dPlan", geometry_str).forward(x.f32(), w.f32(), y.f32());
  else
    cpu::conv2d_forward(x.f32(), w.f32(), y.f32(), g);
  bias_activation_forward(y, b, act);  // NHWC: the bias is per last dimension, as for Dense
}

void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& y, Tensor& dy, int64_t pad_h, int64_t pad_w,
                     Activation act, Tensor* dx, Tensor& dw, Tensor& db, const cuda::Conv2dPlan* plan) {
  const char* op = "conv2d_backward";
  const Conv2dGeometry g = conv2d_geometry(x, w, y, pad_h, pad_w, op);
  expect_shape(dy, y.shape(), op, "output gradient");
  expect_shape(dw, w.shape(), op, "kernel gradient");
  expect_shape(db, {g.out_channels}, op, "bias gradient");
  if (dx) {
    expect_shape(*dx, x.shape(), op, "input gradient");
    expect_same_device(op, {&x, dx});
  }
  expect_same_device(op, {&x, &w, &y, &dy, &dw, &db});
  check_not_softmax(act, op);
  // Validate the plan before anything is written, so a bad call leaves dy untouched.
  const cuda::Conv2dPlan* cuda_plan =
      x.device() == Device::CUDA ? &checked_plan(plan, g, op, "Conv2dPlan", geometry_str) : nullptr;
  if (cuda_plan && dx) cuda_plan->require_backward_data();
  bias_activation_backward(y, dy, db, act);  // dy now holds dz
  if (cuda_plan) {
    cuda_plan->backward_filter(x.f32(), dy.f32(), dw.f32());
    if (dx) cuda_plan->backward_data(dy.f32(), w.f32(), dx->f32());
  } else {
    cpu::conv2d_backward_filter(x.f32(), dy.f32(), dw.f32(), g);
    if (dx) cpu::conv2d_backward_data(dy.f32(), w.f32(), dx->f32(), g);
  }
}

}  // namespace loom
