// The CPU path's matrix products: OpenBLAS SGEMM on row-major operands, the same three products as ref::matmul and
// its gradients (kernels/dense.h), which the parity tests hold them to.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <string>

#include "engine/runtime/errors.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dense.h"

namespace loom {

namespace {

// OpenBLAS takes 32-bit sizes: a larger one would wrap around, so it is refused instead.
blasint blas_size(int64_t size, const char* op) {
  if (size < 0 || size > INT_MAX)
    throw Error(std::string(op) + ": a matrix side of " + std::to_string(size) + " is beyond BLAS's 32-bit sizes");
  return static_cast<blasint>(size);
}

// One product on the calling thread. OpenBLAS's OpenMP build would split it over the thread's OpenMP count; loom
// splits products itself, on its own pool, so that count is held at one for the call.
void sgemm_on_this_thread(CBLAS_TRANSPOSE transpose_a, CBLAS_TRANSPOSE transpose_b, blasint m, blasint n, blasint k,
                          const float* a, blasint lda, const float* b, blasint ldb, float* y, blasint ldy,
                          float beta = 0.0f) {
  const int openmp_threads = omp_get_max_threads();
  if (openmp_threads != 1) omp_set_num_threads(1);
  cblas_sgemm(CblasRowMajor, transpose_a, transpose_b, m, n, k, 1.0f, a, lda, b, ldb, beta, y, ldy);
  if (openmp_threads != 1) omp_set_num_threads(openmp_threads);
}

// Products under this many multiply-adds run whole on the calling thread. On the 2-core development machine the
// tutorial MLP's products (up to 3.2 M) train faster so: alone, 32×784 · 784×128 takes 107 µs on one thread and 69
// on two, but the Dense weight gradient (inner dimension the batch) 134 and 180, and in a training step the threads'
// hand-overs cost more than the halves save (docs/PERFORMANCE.md).
constexpr int64_t kSplitFrom = int64_t{1} << 23;
// A larger product is cut into blocks of the output of about this many multiply-adds, each a product of its own with
// the whole inner dimension: blocks of its columns, or of its rows when it has too few columns to cut (a 10-way
// output layer over a large batch). The blocks depend on the shape alone, so the sums do not depend on the thread
// count.
constexpr int64_t kMultiplyAddsPerBlock = int64_t{1} << 22;

// [0, sides) cut into `blocks` near-equal runs of whole 16-wide groups (a row of AVX-512 registers): the run of
// block i.
struct Run {
  int64_t first, count;
};
Run block_run(int64_t sides, int64_t blocks, int64_t block) {
  const int64_t groups = (sides + 15) / 16;
  const int64_t first = groups * block / blocks * 16, last = std::min(sides, groups * (block + 1) / blocks * 16);
  return {first, last - first};
}

// y[m, n] = op(a) · op(b) for row-major a and b with `a_cols` and `b_cols` columns as stored.
void sgemm(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t a_cols,
           const float* b, int64_t b_cols, float* y, const char* op) {
  const blasint rows = blas_size(m, op), cols = blas_size(n, op), inner = blas_size(k, op);
  const blasint lda = blas_size(std::max<int64_t>(a_cols, 1), op), ldb = blas_size(std::max<int64_t>(b_cols, 1), op),
                ldy = blas_size(std::max<int64_t>(n, 1), op);
  const CBLAS_TRANSPOSE op_a = transpose_a ? CblasTrans : CblasNoTrans, op_b = transpose_b ? CblasTrans : CblasNoTrans;
  const int64_t multiply_adds = m * n * k;
  const bool by_columns = n >= 32;  // two 16-wide groups at least
  const int64_t sides = by_columns ? n : m;
  const int64_t blocks = std::min<int64_t>(
      {(sides + 15) / 16, cpu::kMaxChunks, std::max<int64_t>(2, multiply_adds / kMultiplyAddsPerBlock)});
  if (multiply_adds < kSplitFrom || blocks < 2) {
    sgemm_on_this_thread(op_a, op_b, rows, cols, inner, a, lda, b, ldb, y, ldy);
    return;
  }
  cpu::parallel_chunks(blocks, [&](int64_t block, int) {
    const Run run = block_run(sides, blocks, block);
    const blasint count = static_cast<blasint>(run.count);
    if (by_columns) {
      // op(b)'s columns: columns of b as stored, or rows when it is transposed.
      const float* b_block = transpose_b ? b + run.first * b_cols : b + run.first;
      sgemm_on_this_thread(op_a, op_b, rows, count, inner, a, lda, b_block, ldb, y + run.first, ldy);
    } else {
      // op(a)'s rows: rows of a as stored, or columns when it is transposed.
      const float* a_block = transpose_a ? a + run.first : a + run.first * a_cols;
      sgemm_on_this_thread(op_a, op_b, count, cols, inner, a_block, lda, b, ldb, y + run.first * n, ldy);
    }
  });
}

}  // namespace

void cpu::product_on_this_thread(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
                                 int64_t a_stride, const float* b, int64_t b_stride, float* y, int64_t y_stride,
                                 bool accumulate, const char* op) {
  sgemm_on_this_thread(transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
                       blas_size(m, op), blas_size(n, op), blas_size(k, op), a,
                       blas_size(std::max<int64_t>(a_stride, 1), op), b, blas_size(std::max<int64_t>(b_stride, 1), op),
                       y, blas_size(std::max<int64_t>(y_stride, 1), op), accumulate ? 1.0f : 0.0f);
}

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
