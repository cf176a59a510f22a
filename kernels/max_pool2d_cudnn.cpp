// The GPU side of MaxPooling2D: cuDNN's classic pooling calls (kept for the reasons kernels/conv2d_cudnn.cpp gives).
// The descriptors are made once per batch size, when the model is prepared; forward and backward only enqueue work.
#include <sstream>
#include <string>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "kernels/cudnn_descriptors.h"
#include "kernels/max_pool2d.h"

namespace loom::cuda {
namespace {

std::string describe(const MaxPool2dGeometry& g) {
  std::ostringstream s;
  s << "input (" << g.batch << ", " << g.height << ", " << g.width << ", " << g.channels << "), pool (" << g.pool_h
    << ", " << g.pool_w << "), strides (" << g.stride_h << ", " << g.stride_w << ")";
  return s.str();
}

}  // namespace

struct MaxPool2dPlan::Impl {
  MaxPool2dGeometry g;
  LayerContext ctx;
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnPoolingDescriptor_t pool_desc = nullptr;
  ~Impl() {
    if (pool_desc) cudnnDestroyPoolingDescriptor(pool_desc);
    if (y_desc) cudnnDestroyTensorDescriptor(y_desc);
    if (x_desc) cudnnDestroyTensorDescriptor(x_desc);
  }
};

MaxPool2dPlan::MaxPool2dPlan(const MaxPool2dGeometry& g, const std::string& layer_name)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.g = g;
  p.ctx = {layer_name, describe(g)};
  CudaContext::get().cudnn();  // create the handle now, not in the first step
  p.x_desc = nhwc_tensor(p.ctx, g.batch, g.height, g.width, g.channels);
  p.y_desc = nhwc_tensor(p.ctx, g.batch, g.out_height(), g.out_width(), g.channels);
  p.ctx.check(cudnnCreatePoolingDescriptor(&p.pool_desc), "creating the pooling descriptor");
  // The deterministic variant: the backward pass gives each gradient to one maximum, without atomics.
  p.ctx.check(cudnnSetPooling2dDescriptor(p.pool_desc, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN,
                                          i32(g.pool_h), i32(g.pool_w), 0, 0, i32(g.stride_h), i32(g.stride_w)),
              "describing the pooling");
  int n = 0, c = 0, h = 0, w = 0;
  p.ctx.check(cudnnGetPooling2dForwardOutputDim(p.pool_desc, p.x_desc, &n, &c, &h, &w), "computing the output shape");
  if (n != g.batch || c != g.channels || h != g.out_height() || w != g.out_width())
    throw Error("layer '" + layer_name + "': cuDNN pools to (" + std::to_string(n) + ", " + std::to_string(h) + ", " +
                std::to_string(w) + ", " + std::to_string(c) + ") for " + p.ctx.shapes);
}

MaxPool2dPlan::~MaxPool2dPlan() = default;

const MaxPool2dGeometry& MaxPool2dPlan::geometry() const { return impl_->g; }

void MaxPool2dPlan::forward(const float* x, float* y) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  p.ctx.check(cudnnPoolingForward(CudaContext::get().cudnn(), p.pool_desc, &one, p.x_desc, x, &zero, p.y_desc, y),
              "max-pooling forward");
}

void MaxPool2dPlan::backward(const float* x, const float* y, const float* dy, float* dx) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  p.ctx.check(cudnnPoolingBackward(CudaContext::get().cudnn(), p.pool_desc, &one, p.y_desc, y, p.y_desc, dy, p.x_desc,
                                   x, &zero, p.x_desc, dx),
              "max-pooling backward");
}

}  // namespace loom::cuda
