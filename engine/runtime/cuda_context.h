// The process's CUDA state: one stream that every op enqueues on, the cuBLAS and cuDNN handles bound to it, and a
// workspace for library calls. Created on first use, so CPU-only runs never touch the driver.
//
// The handles are named by the structs CUDA, cuBLAS and cuDNN declare them with (cudaStream_t is CUstream_st*,
// cublasHandle_t cublasContext*, cudnnHandle_t cudnnContext*), so that code which only passes the context on compiles
// without their headers, in builds without the CUDA path too. There get() throws (engine/runtime/without_cuda.cpp).
#pragma once

#include "engine/runtime/buffer.h"

struct CUstream_st;
struct cublasContext;
struct cudnnContext;

namespace loom {

class CudaContext {
 public:
  static CudaContext& get();

  CUstream_st* stream() const { return stream_; }
  cublasContext* cublas() const { return cublas_; }
  cudnnContext* cudnn();  // created on first use: MLP-only runs skip cuDNN's start-up cost

  // Scratch memory for library calls. Grow it when a model is built (never inside a training step); the pointer
  // stays valid until the next reserve that grows it.
  void reserve_workspace(size_t bytes);
  void* workspace() const { return workspace_.data(); }
  size_t workspace_bytes() const { return workspace_.bytes(); }

  void synchronize() const;
  // Whether the stream is recording into a CUDA graph now (work enqueued is captured, not run).
  bool capturing() const;

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

  CUstream_st* stream_ = nullptr;
  cublasContext* cublas_ = nullptr;
  cudnnContext* cudnn_ = nullptr;
  Buffer workspace_;
  Buffer cublas_workspace_;  // given to cuBLAS up front so it never allocates during a graph capture
  bool tf32_ = false;
};

}  // namespace loom
