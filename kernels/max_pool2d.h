// 2-D max pooling over channels-last (NHWC) images, Keras's MaxPooling2D with padding "valid":
//   y[n, i, j, c] = max_{a < pool_h, b < pool_w} x[n, i·stride_h + a, j·stride_w + b, c]
//   out_h = (h - pool_h) / stride_h + 1 (floor: an odd edge row/column is dropped), likewise out_w.
// Backward routes each dy to the window's maximum; on a tie, to the first maximum in row-major window order (as
// TensorFlow does). Overlapping windows (stride < pool) add up.
// The reference (ref::): direct loops, the oracle. CPU: windows that do not overlap scanned for all channels at once,
// images on separate threads (kernels/max_pool2d_cpu.cpp). CUDA: cuDNN pooling (kernels/max_pool2d_cudnn.cpp),
// planned per batch size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace loom {

class Tensor;

struct MaxPool2dGeometry {
  int64_t batch = 0, height = 0, width = 0, channels = 0;
  int64_t pool_h = 2, pool_w = 2, stride_h = 2, stride_w = 2;
  int64_t out_height() const { return (height - pool_h) / stride_h + 1; }
  int64_t out_width() const { return (width - pool_w) / stride_w + 1; }
  bool operator==(const MaxPool2dGeometry& o) const;
};

namespace cuda {
class MaxPool2dPlan {
 public:
  explicit MaxPool2dPlan(const MaxPool2dGeometry& geometry, const std::string& layer_name);
  ~MaxPool2dPlan();
  MaxPool2dPlan(const MaxPool2dPlan&) = delete;
  MaxPool2dPlan& operator=(const MaxPool2dPlan&) = delete;
  const MaxPool2dGeometry& geometry() const;
  void forward(const float* x, float* y) const;
  void backward(const float* x, const float* y, const float* dy, float* dx) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};
}  // namespace cuda

// x [n, h, w, c], y [n, out_h, out_w, c]. On CUDA, `plan` must match the geometry; on the CPU it is ignored.
void max_pool2d_forward(const Tensor& x, Tensor& y, int64_t pool_h, int64_t pool_w, int64_t stride_h, int64_t stride_w,
                        const cuda::MaxPool2dPlan* plan);
void max_pool2d_backward(const Tensor& x, const Tensor& y, const Tensor& dy, Tensor& dx, int64_t pool_h, int64_t pool_w,
                         int64_t stride_h, int64_t stride_w, const cuda::MaxPool2dPlan* plan);

MaxPool2dGeometry max_pool2d_geometry(const Tensor& x, const Tensor& y, int64_t pool_h, int64_t pool_w,
                                      int64_t stride_h, int64_t stride_w, const char* op);

// The CPU path: the reference's results, ties and NaNs included (bit for bit, but for the sign of a zero gradient).
namespace cpu {
void max_pool2d_forward(const float* x, float* y, const MaxPool2dGeometry& g);
void max_pool2d_backward(const float* x, const float* dy, float* dx, const MaxPool2dGeometry& g);
}  // namespace cpu

namespace ref {
template <class T>
void max_pool2d_forward(const T* x, T* y, const MaxPool2dGeometry& g);
template <class T>
void max_pool2d_backward(const T* x, const T* dy, T* dx, const MaxPool2dGeometry& g);
}  // namespace ref

}  // namespace loom
