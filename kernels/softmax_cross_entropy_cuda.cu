#include "kernels/launch.cuh"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/totals.h"
#include "kernels/warp_reduce.cuh"

namespace loom::cuda {
namespace {

// One warp per row. Each row adds its loss and hit to the totals with one atomic each: at batch 32 that is 64
// atomics a step, far cheaper than a second reduction launch.
__global__ void softmax_cross_entropy_kernel(const float* logits, const int32_t* labels, float* probs, float* dlogits,
                                             float grad_scale, float* totals, int64_t rows, int64_t classes) {
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const float* z = logits + row * classes;
  int32_t label = labels[row];
  bool label_ok = label >= 0 && label < classes;

  float max;
  int argmax;
  warp_row_argmax(z, classes, max, argmax);
  float sum = 0.f;
  for (int64_t j = lane; j < classes; j += kWarpSize) sum += expf(z[j] - max);
  float log_sum = logf(warp_sum(sum));
  float label_logit = label_ok ? z[label] : NAN;
  __syncwarp();  // every lane has read z before probs (which may alias it) is written

  for (int64_t j = lane; j < classes; j += kWarpSize) {
    float p = expf(z[j] - max - log_sum);
    probs[row * classes + j] = p;
    if (dlogits) dlogits[row * classes + j] = (p - (j == label ? 1.f : 0.f)) * grad_scale;
  }
  if (lane == 0 && totals) {
    atomicAdd(totals + kLossSum, log_sum + max - label_logit);
    if (argmax == label) atomicAdd(totals + kCorrectCount, 1.f);
  }
}

}  // namespace

void softmax_cross_entropy(const float* logits, const int32_t* labels, float* probs, float* dlogits, float grad_scale,
                           float* totals, int64_t rows, int64_t classes) {
  LOOM_LAUNCH_GRID(ceil_div(rows, kRowsPerBlock), kRowsPerBlock * kWarpSize, softmax_cross_entropy_kernel, logits,
                   labels, probs, dlogits, grad_scale, totals, rows, classes);
}

}  // namespace loom::cuda
