// 2-D convolution, stride 1, over channels-last (NHWC) images, as Keras's Conv2D computes it (cross-correlation):
//   y[n, i, j, o] = Σ_{a, b, c} x[n, i + a - pad_h, j + b - pad_w, c] · w[o, a, b, c]      (outside x reads as 0)
// followed by the shared bias/activation epilogue (bias_activation.h). The kernel is stored [out, kh, kw, in]
// (cuDNN's KRSC, the filter layout that goes with NHWC). Padding "valid" is pad 0; "same" is pad (k - 1) / 2 for odd k.
//
// The reference (ref::): im2col and the Dense reference products, readable, the oracle. CPU: the same im2col, slices of
// the batch on separate threads, into a scratch buffer reserved when the layer is prepared, then OpenBLAS products
// (kernels/conv2d_cpu.cpp). CUDA: cuDNN, with descriptors and algorithms chosen once per batch size in a Conv2dPlan
// (kernels/conv2d_cudnn.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/activation.h"

namespace loom {

class Tensor;

struct Conv2dGeometry {
  int64_t batch = 0, height = 0, width = 0, in_channels = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0, pad_h = 0, pad_w = 0;
  int64_t out_height() const { return height + 2 * pad_h - kernel_h + 1; }
  int64_t out_width() const { return width + 2 * pad_w - kernel_w + 1; }
  bool operator==(const Conv2dGeometry& o) const;
};

namespace cuda {
// cuDNN descriptors, the chosen forward / backward-data / backward-filter algorithms and their workspace size for one
// geometry. Built when a model is prepared for a batch size, never inside a training step. A model's first
// convolution needs no input gradient: its plan is made without a backward-data algorithm (`backward_data` false), so
// the plan never fails for want of one nobody uses (one input channel in NHWC FP32 is the geometry under suspicion).
class Conv2dPlan {
 public:
  Conv2dPlan(const Conv2dGeometry& geometry, const std::string& layer_name, bool backward_data = true);
  ~Conv2dPlan();
  Conv2dPlan(const Conv2dPlan&) = delete;
  Conv2dPlan& operator=(const Conv2dPlan&) = delete;
  const Conv2dGeometry& geometry() const;
  size_t workspace_bytes() const;
  bool has_backward_data() const;
  void require_backward_data() const;  // throws, naming the layer, for a plan made without it
  // The math each pass runs under, from its chosen algorithm (for tests and diagnostics): FMA rules tensor cores, and
  // so TF32, out; tensor-op math is TF32 for float data; default math lets cuDNN use TF32 where it likes. Only a plan
  // made with TF32 on (CudaContext::set_tf32) has anything but FMA. A plan without backward-data says FMA for it.
  enum class Math { Fma, Default, TensorOp };
  struct PassMaths {
    Math forward, backward_data, backward_filter;
  };
  PassMaths pass_maths() const;
  void forward(const float* x, const float* w, float* y) const;
  void backward_data(const float* dy, const float* w, float* dx) const;
  void backward_filter(const float* x, const float* dy, float* dw) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};
}  // namespace cuda

// x [n, h, w, in], w [out, kh, kw, in], b [out], y [n, oh, ow, out]. On CUDA, `plan` must have been made for this
// geometry; on the CPU it is ignored.
void conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, int64_t pad_h, int64_t pad_w,
                    Activation act, const cuda::Conv2dPlan* plan);
// dy is overwritten by the pre-activation gradient; dx is skipped when null.
void conv2d_backward(const Tensor& x, const Tensor& w, const Tensor& y, Tensor& dy, int64_t pad_h, int64_t pad_w,
                     Activation act, Tensor* dx, Tensor& dw, Tensor& db, const cuda::Conv2dPlan* plan);

// Geometry from tensor shapes; throws loom::Error naming `op` when they do not fit together.
Conv2dGeometry conv2d_geometry(const Tensor& x, const Tensor& w, const Tensor& y, int64_t pad_h, int64_t pad_w,
                               const char* op);

namespace cpu {
// Floats of host scratch (engine/runtime/host_scratch.h) the three functions below use for geometry g at the present
// thread count: an im2col buffer for a chunk of the batch per thread, and the weight gradient's partial sums.
// Without that much reserved, they grow the scratch (an allocation).
int64_t conv2d_scratch_floats(const Conv2dGeometry& g);
void conv2d_forward(const float* x, const float* w, float* y, const Conv2dGeometry& g);
void conv2d_backward_data(const float* dy, const float* w, float* dx, const Conv2dGeometry& g);
void conv2d_backward_filter(const float* x, const float* dy, float* dw, const Conv2dGeometry& g);
}  // namespace cpu

namespace ref {
// The convolution alone (no bias, no activation).
template <class T>
void conv2d_forward(const T* x, const T* w, T* y, const Conv2dGeometry& g);
template <class T>
void conv2d_backward_data(const T* dy, const T* w, T* dx, const Conv2dGeometry& g);
template <class T>
void conv2d_backward_filter(const T* x, const T* dy, T* dw, const Conv2dGeometry& g);
}  // namespace ref

}  // namespace loom
