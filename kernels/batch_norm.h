// Batch normalization over the last axis (Keras's BatchNormalization, axis −1), for any tensor viewed as [m, c]:
// a Dense output [n, c] (m = n) or a channels-last image batch [n, h, w, c] (m = n·h·w).
//   training:  mean_c = Σ_r x[r, c] / m,  var_c = Σ_r (x[r, c] − mean_c)² / m (biased, as Keras normalizes),
//              inv_std_c = 1 / √(var_c + ε),  y = γ_c · (x − mean_c) · inv_std_c + β_c;
//              the moving statistics follow Keras: moving = moving · momentum + batch · (1 − momentum), with the
//              batch's biased variance (Keras 3; cuDNN's own running variance would be the unbiased one, so loom
//              updates them itself).
//   inference: y = γ_c · (x − moving_mean_c) / √(moving_var_c + ε) + β_c.
//   backward (training mode), with x̂ = (x − mean) · inv_std:
//              dβ_c = Σ_r dy,  dγ_c = Σ_r dy · x̂,  dx = γ_c · inv_std_c / m · (m · dy − dβ_c − x̂ · dγ_c).
// The reference (ref::) is the definition and the CPU path; CUDA runs cuDNN's batch-normalization calls
// (kernels/batch_norm_cudnn.cpp) and one small kernel for the moving statistics (kernels/batch_norm_cuda.cu).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace loom {

class Tensor;

// A batch of `batch` samples of `pixels` positions (1 for a Dense output, h·w for an image) of `channels` each.
struct BatchNormGeometry {
  int64_t batch = 0, pixels = 1, channels = 0;
  bool operator==(const BatchNormGeometry& o) const {
    return batch == o.batch && pixels == o.pixels && channels == o.channels;
  }
};

namespace cuda {
// cuDNN's descriptors for one batch size, made when a layer is prepared (never inside a step).
class BatchNormPlan {
 public:
  // The largest batches cuDNN's spatial batch-normalization kernels take (kernels/batch_norm_cudnn.cpp): inference
  // runs larger batches in chunks of this many samples; training refuses them.
  static constexpr int64_t kMaxInferenceChunk = 65535;
  static constexpr int64_t kMaxTrainingBatch = 880801;

  BatchNormPlan(const BatchNormGeometry& geometry, const std::string& layer_name);
  ~BatchNormPlan();
  BatchNormPlan(const BatchNormPlan&) = delete;
  BatchNormPlan& operator=(const BatchNormPlan&) = delete;
  const BatchNormGeometry& geometry() const;
  void forward_training(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* inv_std,
                        double epsilon) const;
  void forward_inference(const float* x, const float* gamma, const float* beta, const float* moving_mean,
                         const float* moving_var, float* y, double epsilon) const;
  void backward(const float* x, const float* gamma, const float* mean, const float* inv_std, const float* dy, float* dx,
                float* dgamma, float* dbeta, double epsilon) const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

void update_moving_statistics(float* moving_mean, float* moving_var, const float* mean, const float* inv_std,
                              int64_t channels, float momentum, float epsilon);
}  // namespace cuda

// The settings every call shares.
struct BatchNormSettings {
  float momentum = 0.99f;
  float epsilon = 1e-3f;
};

// x, y: [..., c] (the same shape); gamma, beta, moving_mean, moving_var, mean, inv_std: [c]. Training also writes
// the batch's mean and inv_std (for backward) and updates the moving statistics. On CUDA `plan` must be the one for
// x's rows; on the CPU it is ignored.
void batch_norm_forward_training(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& y,
                                 Tensor& moving_mean, Tensor& moving_var, Tensor& mean, Tensor& inv_std,
                                 const BatchNormSettings& settings, const cuda::BatchNormPlan* plan);
void batch_norm_forward_inference(const Tensor& x, const Tensor& gamma, const Tensor& beta, const Tensor& moving_mean,
                                  const Tensor& moving_var, Tensor& y, const BatchNormSettings& settings,
                                  const cuda::BatchNormPlan* plan);
// dx may be null (nothing needs the input's gradient) on the CPU; cuDNN always writes one.
void batch_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& inv_std,
                         const Tensor& dy, Tensor* dx, Tensor& dgamma, Tensor& dbeta, const BatchNormSettings& settings,
                         const cuda::BatchNormPlan* plan);

namespace ref {
template <class T>
void batch_norm_forward_training(const T* x, const T* gamma, const T* beta, T* y, T* moving_mean, T* moving_var,
                                 T* mean, T* inv_std, int64_t m, int64_t c, const BatchNormSettings& settings);
template <class T>
void batch_norm_forward_inference(const T* x, const T* gamma, const T* beta, const T* moving_mean, const T* moving_var,
                                  T* y, int64_t m, int64_t c, const BatchNormSettings& settings);
template <class T>
void batch_norm_backward(const T* x, const T* gamma, const T* mean, const T* inv_std, const T* dy, T* dx, T* dgamma,
                         T* dbeta, int64_t m, int64_t c);
}  // namespace ref

}  // namespace loom
