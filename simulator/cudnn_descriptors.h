// What the simulated cuDNN's calls share: the handle and the descriptors as cuDNN's opaque structs, the 4-d view of a
// tensor through its strides, and the checks every call that queues work makes (operands in device memory, scalars
// read at the call, the work queued on the handle's stream).
//
// A call validates its arguments and returns cuDNN's status at once; the computation runs later, in stream order,
// from copies of the descriptors and scalars taken at the call, so a descriptor set again afterwards changes nothing
// already queued.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include <cudnn.h>

struct cudnnContext {
  cudaStream_t stream = nullptr;
};

// Dimensions and strides in cuDNN's order (N, C, then the spatial dimensions), strides in elements.
struct cudnnTensorStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  int rank = 0;
  int dims[CUDNN_DIM_MAX] = {};
  int64_t strides[CUDNN_DIM_MAX] = {};
};

struct cudnnFilterStruct {
  bool set = false;
  cudnnDataType_t type = CUDNN_DATA_FLOAT;
  cudnnTensorFormat_t format = CUDNN_TENSOR_NCHW;
  int k = 0, c = 0, h = 0, w = 0;
};

// cudnnCreateConvolutionDescriptor's defaults: default math, one group; the geometry must still be set.
struct cudnnConvolutionStruct {
  bool set = false;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  cudnnDataType_t compute_type = CUDNN_DATA_FLOAT;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  int groups = 1;
};

struct cudnnPoolingStruct {
  bool set = false;
  cudnnPoolingMode_t mode = CUDNN_POOLING_MAX;
  cudnnNanPropagation_t nan = CUDNN_NOT_PROPAGATE_NAN;
  int window_h = 0, window_w = 0, pad_h = 0, pad_w = 0, stride_h = 0, stride_w = 0;
};

namespace loom::sim::dnn {

// A float tensor of four dimensions in NCHW order of indices, whatever its layout in memory.
struct View4 {
  int n = 0, c = 0, h = 0, w = 0;
  int64_t sn = 0, sc = 0, sh = 0, sw = 0;

  int64_t at(int in, int ic, int ih, int iw) const { return in * sn + ic * sc + ih * sh + iw * sw; }
  // The bytes from the first element to the end of the last: what must lie in device memory.
  size_t bytes() const { return static_cast<size_t>(at(n - 1, c - 1, h - 1, w - 1) + 1) * sizeof(float); }
  bool same_dims(const View4& o) const { return n == o.n && c == o.c && h == o.h && w == o.w; }
};

// The packed strides of `format` for dimensions n, c, h, w (cuDNN's NCHW and NHWC; the caller rejects the rest).
View4 packed(cudnnTensorFormat_t format, int n, int c, int h, int w);

// The 4-d float view of a tensor descriptor. BAD_PARAM for a null or unset descriptor; NOT_SUPPORTED for one the
// simulator does not compute on (not 4-d, not float, negative strides).
cudnnStatus_t view_of(const cudnnTensorStruct* desc, View4* view);
// The same for a filter: K as n, its C, R as h, S as w.
cudnnStatus_t view_of(const cudnnFilterStruct* desc, View4* view);

// Whether dimensions n, c, h, w (each > 0) make more elements than cuDNN's int indexing allows.
bool too_many_elements(int64_t n, int64_t c, int64_t h, int64_t w);

// Whether the math type lets cuDNN compute a float convolution in TF32 on the simulated (Hopper) device.
inline bool uses_tf32(cudnnMathType_t math) {
  return math == CUDNN_DEFAULT_MATH || math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// A float scaling factor (alpha, beta): cuDNN reads them from host memory, at the call.
inline float scalar(const void* pointer) { return *static_cast<const float*>(pointer); }

// cuDNN's output rule: out = alpha·value + beta·out, where beta = 0 means the old value is not read at all (it may be
// uninitialized, NaN included).
inline float blend(float alpha, double value, float beta, float old) {
  const float scaled = alpha * static_cast<float>(value);
  return beta == 0.f ? scaled : scaled + beta * old;
}

// The checks of one call that queues work. Each names the call in its reports.
class Call {
 public:
  Call(cudnnHandle_t handle, const char* name) : handle_(handle), name_(name) {}
  // Whether [pointer, pointer + bytes) lies in device memory; if not, reports the operand as a fault of the device
  // (cudaErrorIllegalAddress) and the call must return failed() without queueing anything.
  bool on_device(const char* operand, const void* pointer, size_t bytes) const;
  // Queues `work` on the handle's stream: SUCCESS, or EXECUTION_FAILED when the runtime refuses it (a sticky error
  // from an earlier fault, a broken capture rule).
  cudnnStatus_t queue(std::function<void()> work) const;
  static cudnnStatus_t failed() { return CUDNN_STATUS_EXECUTION_FAILED; }

 private:
  cudnnHandle_t handle_;
  const char* name_;
};

}  // namespace loom::sim::dnn
