// The simulated cuDNN's handle, descriptors, versions and status names, as cudnn_graph.h, cudnn_ops.h and
// cudnn_cnn.h declare them. Setters validate as cuDNN 9 documents and store everything; nothing here touches the
// device.
#include "simulator/cudnn_descriptors.h"

#include <climits>
#include <string>
#include <utility>

#include "simulator/device.h"

namespace loom::sim::dnn {

View4 packed(cudnnTensorFormat_t format, int n, int c, int h, int w) {
  View4 v{n, c, h, w, 0, 0, 0, 0};
  if (format == CUDNN_TENSOR_NHWC) {
    v.sc = 1, v.sw = c, v.sh = int64_t(w) * c, v.sn = int64_t(h) * w * c;
  } else {
    v.sw = 1, v.sh = w, v.sc = int64_t(h) * w, v.sn = int64_t(c) * h * w;
  }
  return v;
}

cudnnStatus_t view_of(const cudnnTensorStruct* desc, View4* view) {
  if (!desc || !desc->set) return CUDNN_STATUS_BAD_PARAM;
  if (desc->rank != 4 || desc->type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
  for (int i = 0; i < 4; ++i)
    if (desc->strides[i] < 0) return CUDNN_STATUS_NOT_SUPPORTED;
  const int* d = desc->dims;
  const int64_t* s = desc->strides;
  *view = View4{d[0], d[1], d[2], d[3], s[0], s[1], s[2], s[3]};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t view_of(const cudnnFilterStruct* desc, View4* view) {
  if (!desc || !desc->set) return CUDNN_STATUS_BAD_PARAM;
  if (desc->type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
  *view = packed(desc->format, desc->k, desc->c, desc->h, desc->w);
  return CUDNN_STATUS_SUCCESS;
}

bool too_many_elements(int64_t n, int64_t c, int64_t h, int64_t w) { return n * c * h * w > INT_MAX; }

bool Call::on_device(const char* operand, const void* pointer, size_t bytes) const {
  return operand_on_device(name_, operand, pointer, bytes);
}

cudnnStatus_t Call::queue(std::function<void()> work) const {
  return enqueue(handle_->stream, name_, std::move(work)) == cudaSuccess ? CUDNN_STATUS_SUCCESS : failed();
}

namespace {

bool valid_type(cudnnDataType_t type) { return type >= CUDNN_DATA_FLOAT && type <= CUDNN_DATA_COMPLEX_FP64; }
bool valid_format(cudnnTensorFormat_t f) {
  return f == CUDNN_TENSOR_NCHW || f == CUDNN_TENSOR_NHWC || f == CUDNN_TENSOR_NCHW_VECT_C;
}
bool vector_type(cudnnDataType_t type) {
  return type == CUDNN_DATA_INT8x4 || type == CUDNN_DATA_UINT8x4 || type == CUDNN_DATA_INT8x32;
}

// The checks cudnnSetTensor4dDescriptor and cudnnSetFilter4dDescriptor share. NCHW_VECT_C holds vectors of int8
// only; the simulator describes it but computes on float NCHW and NHWC alone.
cudnnStatus_t check_4d(cudnnDataType_t type, cudnnTensorFormat_t format, int n, int c, int h, int w) {
  if (!valid_type(type) || !valid_format(format) || n <= 0 || c <= 0 || h <= 0 || w <= 0) return CUDNN_STATUS_BAD_PARAM;
  if ((format == CUDNN_TENSOR_NCHW_VECT_C) != vector_type(type)) return CUDNN_STATUS_BAD_PARAM;
  if (format == CUDNN_TENSOR_NCHW_VECT_C) return CUDNN_STATUS_NOT_SUPPORTED;
  if (too_many_elements(n, c, h, w)) return CUDNN_STATUS_NOT_SUPPORTED;
  return CUDNN_STATUS_SUCCESS;
}

template <class T>
cudnnStatus_t create(T** out) {
  if (!out) return CUDNN_STATUS_BAD_PARAM;
  *out = new T();
  return CUDNN_STATUS_SUCCESS;
}

template <class T>
cudnnStatus_t destroy(T* desc) {
  delete desc;  // cuDNN accepts a null descriptor here
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace
}  // namespace loom::sim::dnn

using namespace loom::sim::dnn;

extern "C" {

size_t cudnnGetVersion(void) { return CUDNN_VERSION; }
size_t cudnnGetCudartVersion(void) { return CUDART_VERSION; }

const char* cudnnGetErrorString(cudnnStatus_t status) {
  switch (status) {
#define LOOM_STATUS_NAME(name) \
  case name:                   \
    return #name;
    LOOM_STATUS_NAME(CUDNN_STATUS_SUCCESS)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_INITIALIZED)
    LOOM_STATUS_NAME(CUDNN_STATUS_SUBLIBRARY_VERSION_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_SERIALIZATION_VERSION_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_DEPRECATED)
    LOOM_STATUS_NAME(CUDNN_STATUS_LICENSE_ERROR)
    LOOM_STATUS_NAME(CUDNN_STATUS_RUNTIME_IN_PROGRESS)
    LOOM_STATUS_NAME(CUDNN_STATUS_RUNTIME_FP_OVERFLOW)
    LOOM_STATUS_NAME(CUDNN_STATUS_SUBLIBRARY_LOADING_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_NULL_POINTER)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_MISALIGNED_POINTER)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_NOT_FINALIZED)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_OUT_OF_BOUND)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_SIZE_INSUFFICIENT)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_STREAM_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_SHAPE_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_DUPLICATED_ENTRIES)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_ATTRIBUTE_TYPE)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_CUDA_GRAPH_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_BAD_PARAM_DESCRIPTOR_TYPE)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHAPE)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_LAYOUT)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDA_DRIVER)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_INCOMPATIBLE_CUDART)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_ARCH_MISMATCH)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_RUNTIME_PREREQUISITE_MISSING)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_SUBLIBRARY_UNAVAILABLE)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_PADDING)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_BAD_LAUNCH_PARAM)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_CUDA_GRAPH_NATIVE_API)
    LOOM_STATUS_NAME(CUDNN_STATUS_NOT_SUPPORTED_INVALID_DYNAMIC_SHAPE)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_COMPILATION_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_UNEXPECTED_VALUE)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_BAD_LAUNCH_PARAM)
    LOOM_STATUS_NAME(CUDNN_STATUS_INTERNAL_ERROR_TEXTURE_CREATION_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_EXECUTION_FAILED)
    LOOM_STATUS_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDA_DRIVER)
    LOOM_STATUS_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUBLAS)
    LOOM_STATUS_NAME(CUDNN_STATUS_EXECUTION_FAILED_CUDART)
    LOOM_STATUS_NAME(CUDNN_STATUS_EXECUTION_FAILED_CURAND)
#undef LOOM_STATUS_NAME
    case CUDNN_STATUS_INVALID_VALUE:  // deprecated, but a number of its own
      return "CUDNN_STATUS_INVALID_VALUE";
  }
  return "CUDNN_STATUS_UNKNOWN";
}

// ---- the handle ----

cudnnStatus_t cudnnCreate(cudnnHandle_t* handle) { return create(handle); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t handle) { return handle ? destroy(handle) : CUDNN_STATUS_BAD_PARAM; }

cudnnStatus_t cudnnSetStream(cudnnHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  handle->stream = stream;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetStream(cudnnHandle_t handle, cudaStream_t* stream) {
  if (!handle || !stream) return CUDNN_STATUS_BAD_PARAM;
  *stream = handle->stream;
  return CUDNN_STATUS_SUCCESS;
}

// ---- tensors ----

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t desc) { return destroy(desc); }

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t desc, cudnnTensorFormat_t format, cudnnDataType_t type,
                                         int n, int c, int h, int w) {
  if (!desc) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = check_4d(type, format, n, c, h, w)) return status;
  const View4 v = packed(format, n, c, h, w);
  *desc = cudnnTensorStruct{true, type, 4, {n, c, h, w}, {v.sn, v.sc, v.sh, v.sw}};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptorEx(cudnnTensorDescriptor_t desc, cudnnDataType_t type, int n, int c, int h,
                                           int w, int n_stride, int c_stride, int h_stride, int w_stride) {
  if (!desc) return CUDNN_STATUS_BAD_PARAM;
  const int dims[4] = {n, c, h, w}, strides[4] = {n_stride, c_stride, h_stride, w_stride};
  return cudnnSetTensorNdDescriptor(desc, type, 4, dims, strides);
}

cudnnStatus_t cudnnSetTensorNdDescriptor(cudnnTensorDescriptor_t desc, cudnnDataType_t type, int rank, const int dims[],
                                         const int strides[]) {
  if (!desc || !dims || !strides || !valid_type(type) || vector_type(type)) return CUDNN_STATUS_BAD_PARAM;
  if (rank < 4 || rank > CUDNN_DIM_MAX) return CUDNN_STATUS_NOT_SUPPORTED;
  cudnnTensorStruct t{true, type, rank, {}, {}};
  int64_t elements = 1;
  for (int i = 0; i < rank; ++i) {
    if (dims[i] <= 0 || strides[i] <= 0) return CUDNN_STATUS_BAD_PARAM;
    t.dims[i] = dims[i];
    t.strides[i] = strides[i];
    elements *= dims[i];
    if (elements > INT_MAX) return CUDNN_STATUS_NOT_SUPPORTED;
  }
  *desc = t;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetTensor4dDescriptor(const cudnnTensorDescriptor_t desc, cudnnDataType_t* type, int* n, int* c,
                                         int* h, int* w, int* n_stride, int* c_stride, int* h_stride, int* w_stride) {
  if (!desc || !desc->set || desc->rank != 4 || !type || !n || !c || !h || !w || !n_stride || !c_stride || !h_stride ||
      !w_stride)
    return CUDNN_STATUS_BAD_PARAM;
  *type = desc->type;
  *n = desc->dims[0], *c = desc->dims[1], *h = desc->dims[2], *w = desc->dims[3];
  *n_stride = int(desc->strides[0]), *c_stride = int(desc->strides[1]);
  *h_stride = int(desc->strides[2]), *w_stride = int(desc->strides[3]);
  return CUDNN_STATUS_SUCCESS;
}

// ---- filters ----

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t desc) { return destroy(desc); }

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t desc, cudnnDataType_t type, cudnnTensorFormat_t format,
                                         int k, int c, int h, int w) {
  if (!desc) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = check_4d(type, format, k, c, h, w)) return status;
  *desc = cudnnFilterStruct{true, type, format, k, c, h, w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetFilter4dDescriptor(const cudnnFilterDescriptor_t desc, cudnnDataType_t* type,
                                         cudnnTensorFormat_t* format, int* k, int* c, int* h, int* w) {
  if (!desc || !desc->set || !type || !format || !k || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
  *type = desc->type, *format = desc->format;
  *k = desc->k, *c = desc->c, *h = desc->h, *w = desc->w;
  return CUDNN_STATUS_SUCCESS;
}

// ---- convolutions ----

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t desc) { return destroy(desc); }

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t desc, int pad_h, int pad_w, int u, int v,
                                              int dilation_h, int dilation_w, cudnnConvolutionMode_t mode,
                                              cudnnDataType_t compute_type) {
  if (!desc || pad_h < 0 || pad_w < 0 || u <= 0 || v <= 0 || dilation_h <= 0 || dilation_w <= 0 ||
      (mode != CUDNN_CONVOLUTION && mode != CUDNN_CROSS_CORRELATION) || !valid_type(compute_type))
    return CUDNN_STATUS_BAD_PARAM;
  // The math type and the group count are set by calls of their own and survive this one.
  desc->set = true;
  desc->pad_h = pad_h, desc->pad_w = pad_w, desc->stride_h = u, desc->stride_w = v;
  desc->dilation_h = dilation_h, desc->dilation_w = dilation_w;
  desc->mode = mode, desc->compute_type = compute_type;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolution2dDescriptor(const cudnnConvolutionDescriptor_t desc, int* pad_h, int* pad_w, int* u,
                                              int* v, int* dilation_h, int* dilation_w, cudnnConvolutionMode_t* mode,
                                              cudnnDataType_t* compute_type) {
  if (!desc || !desc->set || !pad_h || !pad_w || !u || !v || !dilation_h || !dilation_w || !mode || !compute_type)
    return CUDNN_STATUS_BAD_PARAM;
  *pad_h = desc->pad_h, *pad_w = desc->pad_w, *u = desc->stride_h, *v = desc->stride_w;
  *dilation_h = desc->dilation_h, *dilation_w = desc->dilation_w;
  *mode = desc->mode, *compute_type = desc->compute_type;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t desc, cudnnMathType_t math) {
  if (!desc || (math != CUDNN_DEFAULT_MATH && math != CUDNN_TENSOR_OP_MATH &&
                math != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION && math != CUDNN_FMA_MATH))
    return CUDNN_STATUS_BAD_PARAM;
  desc->math = math;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionMathType(cudnnConvolutionDescriptor_t desc, cudnnMathType_t* math) {
  if (!desc || !math) return CUDNN_STATUS_BAD_PARAM;
  *math = desc->math;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int groups) {
  if (!desc || groups < 1) return CUDNN_STATUS_BAD_PARAM;
  desc->groups = groups;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionGroupCount(cudnnConvolutionDescriptor_t desc, int* groups) {
  if (!desc || !groups) return CUDNN_STATUS_BAD_PARAM;
  *groups = desc->groups;
  return CUDNN_STATUS_SUCCESS;
}

// ---- pooling ----

cudnnStatus_t cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t* desc) { return create(desc); }
cudnnStatus_t cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t desc) { return destroy(desc); }

cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t desc, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t nan, int window_h, int window_w, int pad_h, int pad_w,
                                          int stride_h, int stride_w) {
  if (!desc || mode < CUDNN_POOLING_MAX || mode > CUDNN_POOLING_MAX_DETERMINISTIC ||
      (nan != CUDNN_NOT_PROPAGATE_NAN && nan != CUDNN_PROPAGATE_NAN) || window_h <= 0 || window_w <= 0 || pad_h < 0 ||
      pad_w < 0 || stride_h <= 0 || stride_w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  *desc = cudnnPoolingStruct{true, mode, nan, window_h, window_w, pad_h, pad_w, stride_h, stride_w};
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetPooling2dDescriptor(const cudnnPoolingDescriptor_t desc, cudnnPoolingMode_t* mode,
                                          cudnnNanPropagation_t* nan, int* window_h, int* window_w, int* pad_h,
                                          int* pad_w, int* stride_h, int* stride_w) {
  if (!desc || !desc->set || !mode || !nan || !window_h || !window_w || !pad_h || !pad_w || !stride_h || !stride_w)
    return CUDNN_STATUS_BAD_PARAM;
  *mode = desc->mode, *nan = desc->nan, *window_h = desc->window_h, *window_w = desc->window_w;
  *pad_h = desc->pad_h, *pad_w = desc->pad_w, *stride_h = desc->stride_h, *stride_w = desc->stride_w;
  return CUDNN_STATUS_SUCCESS;
}

}  // extern "C"
