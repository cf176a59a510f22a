// The CPU path of the epilogue's backward pass, on all threads, bit for bit the reference's result.
#include <algorithm>

#include "kernels/bias_activation.h"
#include "kernels/cpu_parallel.h"
#include "kernels/relu.h"

namespace loom {

// Threads cannot split the reference's single pass by rows, as both would add into every bias entry, so
// it takes two: ReLU's mask by slices of the flat array, then each thread sums its own columns, over the rows in
// order, as the reference does: the result is the reference's to the bit, on any number of threads.
void cpu::bias_activation_backward(const float* y, float* dy, float* dbias, int64_t rows, int64_t cols,
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

}  // namespace loom
