// The simulated cuBLAS: the handle and its settings, the version queries, and cublasSgemm (column-major, as cuBLAS
// defines it) computed by OpenBLAS when the stream reaches it. Scalars are read from host memory at the call
// (cuBLAS's default pointer mode, the only one loom uses).
#include <cblas.h>
#include <cublasLt.h>
#include <cublas_v2.h>

#include <algorithm>
#include <string>
#include <vector>

#include "simulator/device.h"
#include "simulator/tf32.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;  // nullptr: cuBLAS's own pool
  size_t workspace_bytes = 0;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace loom::sim {
namespace {

bool valid_operation(cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; }

// The bytes a column-major rows × cols matrix with leading dimension ld spans.
size_t matrix_bytes(int rows, int cols, int ld) {
  return rows == 0 || cols == 0 ? 0 : (size_t(cols - 1) * ld + rows) * sizeof(float);
}

// Whether the math mode lets cuBLAS round Sgemm's operands: TF32 mode, and the deprecated tensor-op mode, which lets
// it compute in FP16 (rounded here to the same 10-bit mantissa, without FP16's narrower exponent range).
bool reduced_precision(cublasMath_t math) {
  const int mode = math & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  return mode == CUBLAS_TF32_TENSOR_OP_MATH || mode == CUBLAS_TENSOR_OP_MATH;
}

// A copy of a matrix with its entries rounded to TF32, same layout.
std::vector<float> rounded(const float* a, int rows, int cols, int ld) {
  std::vector<float> copy(size_t(cols) * ld);
  for (int j = 0; j < cols; ++j)
    for (int i = 0; i < rows; ++i) copy[size_t(j) * ld + i] = round_to_tf32(a[size_t(j) * ld + i]);
  return copy;
}

struct Gemm {
  bool trans_a, trans_b, tf32;
  int m, n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b;
  float* c;
};

void run(const Gemm& g) {
  // beta = 0: C is written, never read (it may hold NaN), as cuBLAS documents.
  if (g.beta == 0.f)
    for (int j = 0; j < g.n; ++j) std::fill(g.c + size_t(j) * g.ldc, g.c + size_t(j) * g.ldc + g.m, 0.f);
  if (g.k == 0 || g.alpha == 0.f) {
    if (g.beta != 0.f && g.beta != 1.f)
      for (int j = 0; j < g.n; ++j)
        for (int i = 0; i < g.m; ++i) g.c[size_t(j) * g.ldc + i] *= g.beta;
    return;
  }
  std::vector<float> a_copy, b_copy;
  const float *a = g.a, *b = g.b;
  if (g.tf32) {
    a_copy = rounded(g.a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda);
    b_copy = rounded(g.b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb);
    a = a_copy.data(), b = b_copy.data();
  }
  cblas_sgemm(CblasColMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, g.m, g.n,
              g.k, g.alpha, a, g.lda, b, g.ldb, g.beta, g.c, g.ldc);
}

bool on_device(const char* operand, const void* pointer, size_t bytes) {
  return operand_on_device("cublasSgemm", operand, pointer, bytes);
}

}  // namespace
}  // namespace loom::sim

using namespace loom::sim;

extern "C" {

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext();
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

// As cuBLAS documents, setting the stream puts the workspace back to the library's own pool.
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  handle->workspace = nullptr;
  handle->workspace_bytes = 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetStream_v2(cublasHandle_t handle, cudaStream_t* stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!stream) return CUBLAS_STATUS_INVALID_VALUE;
  *stream = handle->stream;
  return CUBLAS_STATUS_SUCCESS;
}

// cuBLAS requires a workspace aligned to 256 bytes.
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t bytes) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (reinterpret_cast<uintptr_t>(workspace) % 256 != 0) return CUBLAS_STATUS_INVALID_VALUE;
  handle->workspace = workspace;
  handle->workspace_bytes = workspace ? bytes : 0;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  const int base = mode & ~CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;
  if (base < CUBLAS_DEFAULT_MATH || base > CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetMathMode(cublasHandle_t handle, cublasMath_t* mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!mode) return CUBLAS_STATUS_INVALID_VALUE;
  *mode = handle->math;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
  if (!value) return CUBLAS_STATUS_INVALID_VALUE;
  switch (type) {
    case MAJOR_VERSION:
      *value = CUBLAS_VER_MAJOR;
      return CUBLAS_STATUS_SUCCESS;
    case MINOR_VERSION:
      *value = CUBLAS_VER_MINOR;
      return CUBLAS_STATUS_SUCCESS;
    case PATCH_LEVEL:
      *value = CUBLAS_VER_PATCH;
      return CUBLAS_STATUS_SUCCESS;
  }
  return CUBLAS_STATUS_INVALID_VALUE;
}

size_t cublasGetCudartVersion(void) { return CUDART_VERSION; }

// cuBLASLt ships with cuBLAS and carries its version.
size_t cublasLtGetVersion(void) { return CUBLAS_VERSION; }

cublasStatus_t cublasSgemm_v2(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                              int k, const float* alpha, const float* a, int lda, const float* b, int ldb,
                              const float* beta, float* c, int ldc) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool trans_a = transa != CUBLAS_OP_N, trans_b = transb != CUBLAS_OP_N;  // OP_C is OP_T for real matrices
  if (!valid_operation(transa) || !valid_operation(transb) || m < 0 || n < 0 || k < 0 ||
      lda < std::max(1, trans_a ? k : m) || ldb < std::max(1, trans_b ? n : k) || ldc < std::max(1, m) || !alpha ||
      !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const Gemm g{trans_a, trans_b, reduced_precision(handle->math), m, n, k, lda, ldb, ldc, *alpha, *beta, a, b, c};
  // A and B are read only when there is a product to form.
  const bool reads_ab = k > 0 && g.alpha != 0.f;
  if ((handle->workspace && !on_device("workspace (cublasSetWorkspace)", handle->workspace, handle->workspace_bytes)) ||
      (reads_ab && !on_device("A", a, matrix_bytes(trans_a ? k : m, trans_a ? m : k, lda))) ||
      (reads_ab && !on_device("B", b, matrix_bytes(trans_b ? n : k, trans_b ? k : n, ldb))) ||
      !on_device("C", c, matrix_bytes(m, n, ldc)))
    return CUBLAS_STATUS_EXECUTION_FAILED;
  return enqueue(handle->stream, "cublasSgemm", [g] { run(g); }) == cudaSuccess ? CUBLAS_STATUS_SUCCESS
                                                                                : CUBLAS_STATUS_EXECUTION_FAILED;
}

}  // extern "C"
