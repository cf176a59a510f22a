#include "kernels/cross_entropy.h"
#include "kernels/launch.cuh"
#include "kernels/totals.h"
#include "kernels/warp_reduce.cuh"

namespace loom::cuda {
namespace {

__global__ void cross_entropy_probabilities_kernel(const float* probs, const int32_t* labels, float* dprobs,
                                                   float grad_scale, float* totals, int64_t rows, int64_t classes) {
  int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarpSize;
  int lane = threadIdx.x % kWarpSize;
  if (row >= rows) return;
  const float* p = probs + row * classes;
  int32_t label = labels[row];
  bool label_ok = label >= 0 && label < classes;
  float max;
  int argmax;
  warp_row_argmax(p, classes, max, argmax);
  const float lo = kProbabilityEpsilon, hi = 1.f - kProbabilityEpsilon;
  float pl = label_ok ? p[label] : NAN;
  bool in_range = pl >= lo && pl <= hi;
  if (dprobs)
    for (int64_t j = lane; j < classes; j += kWarpSize)
      dprobs[row * classes + j] = (j == label && in_range) ? -grad_scale / pl : 0.f;
  if (lane == 0 && totals) {
    // Clipped as the reference does: fminf/fmaxf would turn a NaN probability into epsilon and hide a diverged model.
    const float clipped = pl < lo ? lo : (pl > hi ? hi : pl);
    atomicAdd(totals + kLossSum, -logf(clipped));  // NaN when the label is out of range (pl is NaN then)
    if (argmax == label) atomicAdd(totals + kCorrectCount, 1.f);
  }
}

}  // namespace

void cross_entropy_probabilities(const float* probs, const int32_t* labels, float* dprobs, float grad_scale,
                                 float* totals, int64_t rows, int64_t classes) {
  LOOM_LAUNCH_GRID(ceil_div(rows, kRowsPerBlock), kRowsPerBlock * kWarpSize, cross_entropy_probabilities_kernel, probs,
                   labels, dprobs, grad_scale, totals, rows, classes);
}

}  // namespace loom::cuda
