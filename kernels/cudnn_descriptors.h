// What every cuDNN plan shares: errors that name the layer and its shapes, and the NHWC tensor descriptor. Included
// only by the cuDNN callers (kernels/*_cudnn.cpp), which CUDA builds alone compile.
#pragma once

#include <cstdint>
#include <string>

#include <cudnn.h>

#include "engine/runtime/errors.h"

namespace loom::cuda {

inline int i32(int64_t v) { return static_cast<int>(v); }

// cuDNN failures name the layer and its shapes, so "CUDNN_STATUS_NOT_SUPPORTED" is never all a user sees.
struct LayerContext {
  std::string layer;
  std::string shapes;
  void check(cudnnStatus_t status, const char* what) const {
    if (status != CUDNN_STATUS_SUCCESS)
      throw Error("cuDNN error in layer '" + layer + "' (" + shapes + "): " + what + ": " +
                  cudnnGetErrorString(status));
  }
};

// The descriptors below are handed to their owner (a plan's Impl, which destroys them) only once fully set; one
// whose setting fails is destroyed here before the error leaves.
inline cudnnTensorDescriptor_t nhwc_tensor(const LayerContext& ctx, int64_t n, int64_t h, int64_t w, int64_t c) {
  cudnnTensorDescriptor_t desc = nullptr;
  ctx.check(cudnnCreateTensorDescriptor(&desc), "creating a tensor descriptor");
  cudnnStatus_t status =
      cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, i32(n), i32(c), i32(h), i32(w));
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(desc);
  ctx.check(status, "describing an NHWC tensor");
  return desc;
}

}  // namespace loom::cuda
