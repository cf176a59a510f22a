#include "kernels/gather_batch.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {

// One thread per output element: neighbouring threads read neighbouring bytes of the same source image.
__global__ void gather_batch_kernel(const uint8_t* images, const uint8_t* labels, const int32_t* order,
                                    const int32_t* cursor, float* x, int32_t* y, int64_t n, int64_t sample_size) {
  const int32_t* indices = order + *cursor;
  LOOM_GRID_STRIDE_LOOP(i, n * sample_size) {
    int64_t b = i / sample_size;
    int64_t src = static_cast<int64_t>(indices[b]);
    x[i] = static_cast<float>(images[src * sample_size + (i - b * sample_size)]) * kPixelScale;
    if (i - b * sample_size == 0) y[b] = labels[src];
  }
}

}  // namespace

void gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor,
                  float* x, int32_t* y, int64_t n, int64_t sample_size) {
  launch_elementwise(n * sample_size, gather_batch_kernel, images, labels, order, cursor, x, y, n, sample_size);
}

}  // namespace loom::cuda
