#include "engine/runtime/cuda_context.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"

namespace loom {

CudaContext& CudaContext::get() {
  // Never destroyed: cuDNN and cuBLAS load parts of themselves after the context exists, and may already be torn
  // down when static destructors run; the driver reclaims everything at exit.
  static CudaContext* context = new CudaContext();
  return *context;
}

CudaContext::CudaContext() {
  const CudaProbe& probe = probe_cuda();
  if (!probe.usable) throw Error("cannot use the GPU: " + probe.reason + " (run with --device cpu)");
  LOOM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  LOOM_CUBLAS_CHECK(cublasCreate(&cublas_));
  LOOM_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;  // NVIDIA's recommendation for Hopper
  cublas_workspace_ = Buffer(Memory::Device, kCublasWorkspaceBytes);
  LOOM_CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_.data(), kCublasWorkspaceBytes));
  // Plain FP32 unless a caller opts into TF32 explicitly.
  LOOM_CUBLAS_CHECK(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
}

CudaContext::~CudaContext() {
  // The process is exiting; the driver may already be shutting down, so failures here are not worth a word.
  if (cudnn_) cudnnDestroy(cudnn_);
  if (cublas_) cublasDestroy(cublas_);
  if (stream_) cudaStreamDestroy(stream_);
}

cudnnContext* CudaContext::cudnn() {
  if (!cudnn_) {
    LOOM_CUDNN_CHECK(cudnnCreate(&cudnn_));
    LOOM_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

void CudaContext::reserve_workspace(size_t bytes) {
  if (bytes <= workspace_.bytes()) return;
  synchronize();  // work in flight may still be using the old workspace
  workspace_ = Buffer(Memory::Device, bytes);
}

void CudaContext::set_tf32(bool enabled) {
  LOOM_CUBLAS_CHECK(cublasSetMathMode(cublas_, enabled ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  tf32_ = enabled;
}

void CudaContext::synchronize() const { LOOM_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

bool CudaContext::capturing() const {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  LOOM_CUDA_CHECK(cudaStreamIsCapturing(stream_, &status));
  return status != cudaStreamCaptureStatusNone;
}

}  // namespace loom
