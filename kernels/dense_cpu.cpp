// The CPU path's matrix products: OpenBLAS SGEMM on row-major operands, the same three products as ref::matmul and
// its gradients (kernels/dense.h), which the parity tests hold them to.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <string>

#include "engine/runtime/errors.h"
#include "kernels/dense.h"

namespace loom {

namespace {

// OpenBLAS takes 32-bit sizes: a larger one would wrap around, so it is refused instead.
blasint blas_size(int64_t size, const char* op) {
  if (size < 0 || size > INT_MAX)
    throw Error(std::string(op) + ": a matrix side of " + std::to_string(size) + " is beyond BLAS's 32-bit sizes");
  return static_cast<blasint>(size);
}

// Whether splitting a product between threads pays. OpenBLAS splits anything above a small size, but on the 2-core
// development machine the tutorial MLP's products (up to 3.2 M multiply-adds) train faster on one thread: alone,
// 32×784 · 784×128 takes 107 µs on one thread and 69 on two, but the Dense weight gradient (inner dimension the
// batch) 134 and 180, and in a training step the threads' hand-overs cost more than the halves save. The
// convolutions' products (12 M multiply-adds and more) gain 1.4-2× (docs/PERFORMANCE.md). Below 8 M multiply-adds a
// product runs on the calling thread alone.
bool worth_threads(int64_t m, int64_t n, int64_t k) { return m * n * k >= (int64_t{1} << 23); }

// y[m, n] = op(a) · op(b) for row-major a and b with `a_cols` and `b_cols` columns as stored.
void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t a_cols,
           const float* b, int64_t b_cols, float* y, const char* op) {
  const blasint rows = blas_size(m, op), cols = blas_size(n, op), inner = blas_size(k, op);
  const blasint lda = blas_size(std::max<int64_t>(a_cols, 1), op), ldb = blas_size(std::max<int64_t>(b_cols, 1), op),
                ldy = blas_size(std::max<int64_t>(n, 1), op);
  // OpenBLAS's OpenMP build sizes each product by omp_get_max_threads(): lowered for this call alone.
  const int threads = omp_get_max_threads();
  const bool alone = threads > 1 && !worth_threads(m, n, k);
  if (alone) omp_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, rows,
              cols, inner, 1.0f, a, lda, b, ldb, 0.0f, y, ldy);
  if (alone) omp_set_num_threads(threads);
}

}  // namespace

// y[n, out] = x[n, in] · w[in, out]
void cpu::matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out) {
  sgemm(false, false, n, out, in, x, in, w, out, y, "matmul");
}

// dw[in, out] = xᵀ[in, n] · dz[n, out]
void cpu::matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out) {
  sgemm(true, false, in, out, n, x, in, dz, out, dw, "matmul_grad_weight");
}

// dx[n, in] = dz[n, out] · wᵀ[out, in]
void cpu::matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out) {
  sgemm(false, true, n, in, out, dz, out, w, out, dx, "matmul_grad_input");
}

}  // namespace loom
