#include "kernels/bias_activation.h"

#include <algorithm>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/cpu_parallel.h"
#include "kernels/relu.h"

namespace loom {

const char* activation_name(Activation act) {
  switch (act) {
    case Activation::None: return "linear";
    case Activation::ReLU: return "relu";
    case Activation::Softmax: return "softmax";
  }
  return "?";
}

namespace {

// The CPU path. Threads cannot split the reference's single pass by rows, as both would add into every bias entry, so
// it takes two: ReLU's mask by slices of the flat array, then each thread sums its own columns, over the rows in
// order, as the reference does: the result is the reference's to the bit, on any number of threads.
void cpu_bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols,
                                  Activation act) {
  if (act == Activation::ReLU)
    cpu::parallel_ranges(rows * cols, 1, [&](int64_t begin, int64_t end) {
      ref::relu_backward(y + begin, dy + begin, dy + begin, end - begin);  // the mask of bias_activation_backward
    });
  // Blocks of 16 columns (a cache line's worth of dbias, so threads seldom write the same line), summed on the stack,
  // not through dbias (which might alias dy, so the compiler would store every partial sum).
  constexpr int64_t kBlock = 16;
  cpu::parallel_ranges((cols + kBlock - 1) / kBlock, kBlock * rows, [&](int64_t first_block, int64_t last_block) {
    for (int64_t c0 = first_block * kBlock; c0 < std::min(cols, last_block * kBlock); c0 += kBlock) {
      const int64_t width = std::min(kBlock, cols - c0);
      float sums[kBlock] = {};
      for (int64_t r = 0; r < rows; ++r) {
        const float* dz = dy + r * cols + c0;
        for (int64_t c = 0; c < width; ++c) sums[c] += dz[c];
      }
      for (int64_t c = 0; c < width; ++c) dbias[c0 + c] = sums[c];
    }
  });
}

void check_fusable(Activation act, const char* op) {
  if (act == Activation::Softmax)
    throw Error(std::string(op) + ": softmax is a row operation and cannot be fused into a bias epilogue");
}
}  // namespace

void bias_activation_forward(Tensor& y, const Tensor& bias, Activation act) {
  const char* op = "bias_activation_forward";
  check_fusable(act, op);
  expect_same_device(op, {&y, &bias});
  int64_t cols = bias.numel();
  if (cols == 0 || y.numel() % cols != 0)
    throw Error(std::string(op) + ": output " + shape_str(y.shape()) + " does not match bias " +
                shape_str(bias.shape()));
  int64_t rows = y.numel() / cols;
  if (y.device() == Device::CUDA)
    cuda::bias_activation_forward(y.f32(), bias.f32(), rows, cols, act);
  else  // the CPU path: the reference on slices of rows, one per thread
    cpu::parallel_ranges(rows, cols, [&](int64_t begin, int64_t end) {
      ref::bias_activation_forward(y.f32() + begin * cols, bias.f32(), end - begin, cols, act);
    });
}

void bias_activation_backward(const Tensor& y, Tensor& dy, Tensor& dbias, Activation act) {
  const char* op = "bias_activation_backward";
  check_fusable(act, op);
  expect_same_device(op, {&y, &dy, &dbias});
  expect_shape(dy, y.shape(), op, "dy");
  int64_t cols = dbias.numel();
  if (cols == 0 || y.numel() % cols != 0)
    throw Error(std::string(op) + ": output " + shape_str(y.shape()) + " does not match bias " +
                shape_str(dbias.shape()));
  int64_t rows = y.numel() / cols;
  if (y.device() == Device::CUDA)
    cuda::bias_activation_backward(y.f32(), dy.f32(), dbias.f32(), rows, cols, act);
  else
    cpu_bias_activation_backward(y.f32(), dy.f32(), dbias.f32(), rows, cols, act);
}

}  // namespace loom
