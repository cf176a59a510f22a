// The process's CUDA state: one stream that every op enqueues on, the cuBLAS and cuDNN handles bound to it, and a
// workspace for library calls. Created on first use, so CPU-only runs never touch the driver.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/runtime/buffer.h"

namespace loom {

class CudaContext {
 public:
  static CudaContext& get();

  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn();  // created on first use: MLP-only runs skip cuDNN's start-up cost

  // Scratch memory for library calls. Grow it when a model is built (never inside a training step); the pointer
  // stays valid until the next reserve that grows it.
  void reserve_workspace(size_t bytes);
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }

  void synchronize() const;

  // TF32 tensor-core math for cuBLAS and for cuDNN plans made afterwards (off by default: plain FP32). Faster matrix
  // products at about 10 bits of mantissa; its effect on accuracy is measured, not assumed (docs/PERFORMANCE.md).
  // Set it before building models: a layer's cuDNN plans keep the math they were made with (the apps set it first).
  void set_tf32(bool enabled);
  bool tf32() const { return tf32_; }

  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

 private:
  CudaContext();
  ~CudaContext();

  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  Buffer workspace_;
  Buffer cublas_workspace_;  // given to cuBLAS up front so it never allocates during a graph capture
  bool tf32_ = false;
};

}  // namespace loom
