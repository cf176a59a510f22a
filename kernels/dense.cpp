#include "kernels/dense.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/bias_activation.h"

namespace loom {

namespace {

struct DenseDims {
  int64_t n, in, out;
};

DenseDims dense_dims(const Tensor& x, const Tensor& w, const char* op) {
  if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(0))
    throw Error(std::string(op) + ": input " + shape_str(x.shape()) + " does not fit kernel " + shape_str(w.shape()));
  return {x.dim(0), w.dim(0), w.dim(1)};
}

}  // namespace

void dense_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, Activation act) {
  const char* op = "dense_forward";
  DenseDims d = dense_dims(x, w, op);
  expect_shape(b, {d.out}, op, "bias");
  expect_shape(y, {d.n, d.out}, op, "output");
  expect_same_device(op, {&x, &w, &b, &y});
  if (x.device() == Device::CUDA)
    cuda::matmul(x.f32(), w.f32(), y.f32(), d.n, d.in, d.out);
  else
    cpu::matmul(x.f32(), w.f32(), y.f32(), d.n, d.in, d.out);
  bias_activation_forward(y, b, act);
}

void dense_backward(const Tensor& x, const Tensor& w, const Tensor& y, Tensor& dy, Activation act, Tensor* dx,
                    Tensor& dw, Tensor& db) {
  const char* op = "dense_backward";
  DenseDims d = dense_dims(x, w, op);
  expect_shape(y, {d.n, d.out}, op, "output");
  expect_shape(dw, w.shape(), op, "kernel gradient");
  if (dx) {
    expect_shape(*dx, x.shape(), op, "input gradient");
    expect_same_device(op, {&x, dx});
  }
  expect_same_device(op, {&x, &w, &y, &dy, &dw, &db});
  bias_activation_backward(y, dy, db, act);  // dy now holds dz
  if (x.device() == Device::CUDA) {
    cuda::matmul_grad_weight(x.f32(), dy.f32(), dw.f32(), d.n, d.in, d.out);
    if (dx) cuda::matmul_grad_input(dy.f32(), w.f32(), dx->f32(), d.n, d.in, d.out);
  } else {
    cpu::matmul_grad_weight(x.f32(), dy.f32(), dw.f32(), d.n, d.in, d.out);
    if (dx) cpu::matmul_grad_input(dy.f32(), w.f32(), dx->f32(), d.n, d.in, d.out);
  }
}

}  // namespace loom
