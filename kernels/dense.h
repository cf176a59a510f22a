// Dense (fully connected) layer, Keras layout: kernel w is [in, out], bias b is [out], rows are samples.
//   forward:  y = act(x · w + b)
//   backward: dz = dy · act'(y) (written over dy), dw = xᵀ · dz, db = Σ_rows dz, dx = dz · wᵀ (when dx is given)
// On the GPU the products are cuBLAS SGEMM (kernels/dense_cublas.cpp), on the CPU OpenBLAS SGEMM
// (kernels/dense_cpu.cpp); the bias/activation is one fused pass (bias_activation.h). The ref:: loops
// (kernels/dense_ref.cpp) define the products and are the oracle both are tested against.
#pragma once

#include <cstdint>

#include "kernels/activation.h"

namespace loom {

class Tensor;

void dense_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Activation act);
void dense_backward(const Tensor& x, const Tensor& w, const Tensor& y, Tensor& dy, Activation act, Tensor* dx,
                    Tensor& dw, Tensor& db);

namespace ref {
// The products alone (no bias, no activation); the rest is bias_activation.
template <class T>
void matmul(const T* x, const T* w, T* y, int64_t n, int64_t in, int64_t out);  // y = x·w
template <class T>
void matmul_grad_weight(const T* x, const T* dz, T* dw, int64_t n, int64_t in, int64_t out);  // dw = xᵀ·dz
template <class T>
void matmul_grad_input(const T* dz, const T* w, T* dx, int64_t n, int64_t in, int64_t out);  // dx = dz·wᵀ
}  // namespace ref

// The CPU path: the same products through OpenBLAS, on up to cpu_threads() threads (engine/runtime/cpu_threads.h).
namespace cpu {
void matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out);
void matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out);
void matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out);
// One product on the calling thread alone, for ops that cut their work into chunks themselves (the convolutions):
// y[m, n] = op(a) · op(b), or y += op(a) · op(b) when `accumulate`; row-major, each with its row stride as stored.
void product_on_this_thread(bool transpose_a, bool transpose_b, int64_t m, int64_t n, int64_t k, const float* a,
                            int64_t a_stride, const float* b, int64_t b_stride, float* y, int64_t y_stride,
                            bool accumulate, const char* op);
}  // namespace cpu

namespace cuda {
void matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out);
void matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out);
void matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out);
}  // namespace cuda

}  // namespace loom
