// One check macro per library (CUDA runtime, cuBLAS, cuDNN). Each reports file:line and the library's own words
// and throws loom::Error; the *_WARN variants print instead of throwing, for destructors. A header of the CUDA path
// alone (it needs CUDA's, cuBLAS's and cuDNN's headers): only the sources a build without it leaves out include it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

namespace loom::detail {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* expr, const char* file, int line);
[[noreturn]] void throw_cudnn_error(cudnnStatus_t status, const char* expr, const char* file, int line);
void warn_cuda_error(cudaError_t status, const char* expr, const char* file, int line);

// Words for errors whose cause users can fix, e.g. "no CUDA-capable device is detected" gets a hint.
const char* cublas_status_text(cublasStatus_t status);

}  // namespace loom::detail

#define LOOM_CUDA_CHECK(expr)                                                                                   \
  do {                                                                                                          \
    cudaError_t loom_status_ = (expr);                                                                          \
    if (loom_status_ != cudaSuccess) ::loom::detail::throw_cuda_error(loom_status_, #expr, __FILE__, __LINE__); \
  } while (0)

#define LOOM_CUBLAS_CHECK(expr)                                                    \
  do {                                                                             \
    cublasStatus_t loom_status_ = (expr);                                          \
    if (loom_status_ != CUBLAS_STATUS_SUCCESS)                                     \
      ::loom::detail::throw_cublas_error(loom_status_, #expr, __FILE__, __LINE__); \
  } while (0)

#define LOOM_CUDNN_CHECK(expr)                                                    \
  do {                                                                            \
    cudnnStatus_t loom_status_ = (expr);                                          \
    if (loom_status_ != CUDNN_STATUS_SUCCESS)                                     \
      ::loom::detail::throw_cudnn_error(loom_status_, #expr, __FILE__, __LINE__); \
  } while (0)

// For destructors and other places that must not throw.
#define LOOM_CUDA_WARN(expr)                                                                                   \
  do {                                                                                                         \
    cudaError_t loom_status_ = (expr);                                                                         \
    if (loom_status_ != cudaSuccess) ::loom::detail::warn_cuda_error(loom_status_, #expr, __FILE__, __LINE__); \
  } while (0)

// After a kernel launch: catches bad launch configurations and missing kernel images without synchronizing.
#define LOOM_CUDA_CHECK_LAUNCH() LOOM_CUDA_CHECK(cudaGetLastError())
