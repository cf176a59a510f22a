#include "kernels/max_pool2d.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/plan_check.h"

namespace loom {

bool MaxPool2dGeometry::operator==(const MaxPool2dGeometry& o) const {
  return batch == o.batch && height == o.height && width == o.width && channels == o.channels && pool_h == o.pool_h &&
         pool_w == o.pool_w && stride_h == o.stride_h && stride_w == o.stride_w;
}

namespace {

std::string geometry_str(const MaxPool2dGeometry& g) {
  return "input " + shape_str({g.batch, g.height, g.width, g.channels}) + ", pool (" + std::to_string(g.pool_h) + ", " +
         std::to_string(g.pool_w) + "), stride (" + std::to_string(g.stride_h) + ", " + std::to_string(g.stride_w) +
         ")";
}

}  // namespace

MaxPool2dGeometry max_pool2d_geometry(const Tensor& x, const Tensor& y, int64_t pool_h, int64_t pool_w,
                                      int64_t stride_h, int64_t stride_w, const char* op) {
  // Messages are built only when thrown: this check runs on every call.
  auto where = [&] { return std::string(op) + ": "; };
  auto window = [&] {
    return "pool (" + std::to_string(pool_h) + ", " + std::to_string(pool_w) + "), stride (" +
           std::to_string(stride_h) + ", " + std::to_string(stride_w) + ")";
  };
  if (x.dtype() != DType::F32 || y.dtype() != DType::F32)
    throw Error(where() + "expects float32 tensors (input " + shape_str(x.shape()) + ")");
  if (x.rank() != 4) throw Error(where() + "expects input [n, h, w, c], got " + shape_str(x.shape()));
  if (pool_h < 1 || pool_w < 1 || stride_h < 1 || stride_w < 1)
    throw Error(where() + window() + " must be at least 1 (input " + shape_str(x.shape()) + ")");
  if (pool_h > x.dim(1) || pool_w > x.dim(2))
    throw Error(where() + window() + " is larger than the image of input " + shape_str(x.shape()));
  MaxPool2dGeometry g;
  g.batch = x.dim(0);
  g.height = x.dim(1);
  g.width = x.dim(2);
  g.channels = x.dim(3);
  g.pool_h = pool_h;
  g.pool_w = pool_w;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  if (g.batch < 1 || g.channels < 1) throw Error(where() + "empty input " + shape_str(x.shape()));
  if (!has_shape(y, {g.batch, g.out_height(), g.out_width(), g.channels}))
    throw Error(where() + "output has shape " + shape_str(y.shape()) + ", expected " +
                shape_str({g.batch, g.out_height(), g.out_width(), g.channels}) + " for " + geometry_str(g));
  return g;
}

void max_pool2d_forward(const Tensor& x, Tensor& y, int64_t pool_h, int64_t pool_w, int64_t stride_h, int64_t stride_w,
                        const cuda::MaxPool2dPlan* plan) {
  const char* op = "max_pool2d_forward";
  const MaxPool2dGeometry g = max_pool2d_geometry(x, y, pool_h, pool_w, stride_h, stride_w, op);
  expect_same_device(op, {&x, &y});
  if (x.device() == Device::CUDA)
    checked_plan(plan, g, op, "MaxPool2dPlan", geometry_str).forward(x.f32(), y.f32());
  else
    cpu::max_pool2d_forward(x.f32(), y.f32(), g);
}

void max_pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, int64_t pool_h, int64_t pool_w,
                         int64_t stride_h, int64_t stride_w, const cuda::MaxPool2dPlan* plan) {
  const char* op = "max_pool2d_backward";
  const MaxPool2dGeometry g = max_pool2d_geometry(x, y, pool_h, pool_w, stride_h, stride_w, op);
  expect_shape(dy, y.shape(), op, "output gradient");
  expect_shape(dx, x.shape(), op, "input gradient");
  expect_same_device(op, {&x, &y, &dy, &dx});
  if (x.device() == Device::CUDA)
    checked_plan(plan, g, op, "MaxPool2dPlan", geometry_str).backward(x.f32(), y.f32(), dy.f32(), dx.f32());
  else  // both find the maxima again from x
    cpu::max_pool2d_backward(x.f32(), dy.f32(), dx.f32(), g);
}

}  // namespace loom
