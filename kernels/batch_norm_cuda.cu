#include "kernels/batch_norm.h"
#include "kernels/launch.cuh"

namespace loom::cuda {
namespace {

// Keras's update, from the batch statistics cuDNN saved: its inverse standard deviation 1/√(var + ε) gives back the
// biased variance the batch was normalized with.
__global__ void update_moving_statistics_kernel(float* moving_mean, float* moving_var, const float* mean,
                                                const float* inv_std, int64_t channels, float momentum, float epsilon) {
  LOOM_GRID_STRIDE_LOOP(k, channels) {
    const double variance = 1.0 / (static_cast<double>(inv_std[k]) * inv_std[k]) - epsilon;
    moving_mean[k] = static_cast<float>(moving_mean[k] * static_cast<double>(momentum) +
                                        mean[k] * (1.0 - static_cast<double>(momentum)));
    moving_var[k] = static_cast<float>(moving_var[k] * static_cast<double>(momentum) +
                                       (variance > 0 ? variance : 0.0) * (1.0 - static_cast<double>(momentum)));
  }
}

}  // namespace

void update_moving_statistics(float* moving_mean, float* moving_var, const float* mean, const float* inv_std,
                              int64_t channels, float momentum, float epsilon) {
  LOOM_LAUNCH_ELEMENTWISE(channels, update_moving_statistics_kernel, moving_mean, moving_var, mean, inv_std, channels,
                          momentum, epsilon);
}

}  // namespace loom::cuda
