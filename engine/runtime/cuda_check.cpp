#include "engine/runtime/cuda_check.h"

#include <cstdio>
#include <string>

#include "engine/runtime/errors.h"

namespace loom::detail {
namespace {

// What the user can do about the commonest failures, appended to the library's own words.
const char* cuda_hint(cudaError_t status) {
  switch (status) {
    case cudaErrorNoDevice:
      return " (no CUDA device found: run with --device cpu or check the driver)";
    case cudaErrorInsufficientDriver:
      return " (the NVIDIA driver is older than this CUDA runtime: update the driver or run with --device cpu)";
    case cudaErrorNoKernelImageForDevice:
      return " (this build has no kernel for this GPU: rebuild with -DCMAKE_CUDA_ARCHITECTURES=<your GPU's>)";
    case cudaErrorMemoryAllocation:
      return " (out of GPU memory: lower --batch-size or free the GPU)";
    default:
      return "";
  }
}

std::string where(const char* expr, const char* file, int line) {
  return std::string(" in ") + expr + " at " + file + ":" + std::to_string(line);
}

// A failed call also leaves its error in the runtime's last-error slot, where the next launch check
// (cudaGetLastError) would take it for a failed kernel once the failure has been caught or warned about: cleared
// when it is this error. (A sticky error stays: every later call returns it anyway.)
void clear_last_error(cudaError_t status) {
  if (cudaPeekAtLastError() == status) (void)cudaGetLastError();
}

}  // namespace

const char* cublas_status_text(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS:
      return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "cuBLAS not initialized (is there a working GPU and driver?)";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "cuBLAS could not allocate GPU memory";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "cuBLAS was given an invalid value (a size or leading dimension)";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "cuBLAS feature not supported by this GPU";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "cuBLAS could not access GPU memory";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "cuBLAS kernel failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "cuBLAS internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "cuBLAS operation not supported";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "cuBLAS license error";
    default:
      return "unknown cuBLAS status";
  }
}

void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  clear_last_error(status);
  throw Error(std::string("CUDA error: ") + cudaGetErrorString(status) + cuda_hint(status) + where(expr, file, line));
}

void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line) {
  throw Error(std::string("cuBLAS error: ") + cublas_status_text(status) + where(expr, file, line));
}

void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line) {
  throw Error(std::string("cuDNN error: ") + cudnnGetErrorString(status) + where(expr, file, line));
}

void warn_cuda_error(cudaError_t status, const char* expr, const char* file, int line) {
  if (status == cudaErrorCudartUnloading) return;  // process exit: the runtime frees everything itself
  clear_last_error(status);
  std::fprintf(stderr, "loom: warning: CUDA error: %s%s\n", cudaGetErrorString(status),
               where(expr, file, line).c_str());
}

}  // namespace loom::detail
