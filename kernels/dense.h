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

// The CPU path: the same products through OpenBLAS, on cpu_threads() threads (engine/runtime/cpu_threads.h).
namespace cpu {
void matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out);
void matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out);
void matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out);
}  // namespace cpu

namespace cuda {
void matmul(const float* x, const float* w, float* y, int64_t n, int64_t in, int64_t out);
void matmul_grad_weight(const float* x, const float* dz, float* dw, int64_t n, int64_t in, int64_t out);
void matmul_grad_input(const float* dz, const float* w, float* dx, int64_t n, int64_t in, int64_t out);
}  // namespace cuda

}  // namespace loom
