// Row-major products through column-major cuBLAS: a row-major [r, c] matrix is the column-major [c, r] matrix,
// so each product is computed transposed (yᵀ = wᵀ·xᵀ and so on) without moving any data.
#include <cublas_v2.h>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "kernels/dense.h"

namespace loom::cuda {
namespace {
cublasHandle_t blas() { return CudaContext::get().cublas(); }
int i32(int64_t v) { return static_cast<int>(v); }
}  // namespace

void matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out) {
  const float one = 1.f, zero = 0.f;
  // yᵀ[out, n] = wᵀ[out, in] · xᵀ[in, n]
  LOOM_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_N, i32(out), i32(n), i32(in), &one, w, i32(out), x,
                                i32(in), &zero, y, i32(out)));
}

void matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out) {
  const float one = 1.f, zero = 0.f;
  // dwᵀ[out, in] = dzᵀ[out, n] · x[n, in]
  LOOM_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_N, CUBLAS_OP_T, i32(out), i32(in), i32(n), &one, dz, i32(out), x,
                                i32(in), &zero, dw, i32(out)));
}

void matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out) {
  const float one = 1.f, zero = 0.f;
  // dxᵀ[in, n] = w[in, out] · dzᵀ[out, n]
  LOOM_CUBLAS_CHECK(cublasSgemm(blas(), CUBLAS_OP_T, CUBLAS_OP_N, i32(in), i32(n), i32(out), &one, w, i32(out), dz,
                                i32(out), &zero, dx, i32(in)));
}

}  // namespace loom::cuda
