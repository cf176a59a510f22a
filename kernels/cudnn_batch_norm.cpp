// The GPU side of BatchNormalization, through cuDNN's classic batch-normalization calls (kept for the same reasons
// as kernels/cudnn_conv_pool.cpp gives; deprecation warnings stay off unless CUDNN_WARN_DEPRECATED is set).
//
// loom normalizes the last axis of a tensor viewed as [m, c]; cuDNN is shown it as m images of c channels of 1x1
// pixels (NCHW with H = W = 1, the same bytes), in spatial mode: one mean and variance per channel over the m rows,
// whether the rows are a Dense layer's samples or every pixel of a convolution's batch. cuDNN's own running
// averages are not used (it would update the variance with the unbiased estimate; Keras uses the biased one): the
// moving statistics are updated by cuda::update_moving_statistics from the saved batch statistics.
#include <cstdint>
#include <string>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "kernels/batch_norm.h"

namespace loom::cuda {

struct BatchNormPlan::Impl {
  int64_t rows = 0, channels = 0;
  std::string layer;
  cudnnTensorDescriptor_t data_desc = nullptr, channel_desc = nullptr;
  void check(cudnnStatus_t status, const char* what) const {
    if (status != CUDNN_STATUS_SUCCESS)
      throw Error("cuDNN error in layer '" + layer + "' (" + std::to_string(rows) + " rows of " +
                  std::to_string(channels) + " channels): " + what + ": " + cudnnGetErrorString(status));
  }
  ~Impl() {
    if (channel_desc) cudnnDestroyTensorDescriptor(channel_desc);
    if (data_desc) cudnnDestroyTensorDescriptor(data_desc);
  }
};

BatchNormPlan::BatchNormPlan(const BatchNormGeometry& geometry, const std::string& layer_name)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  const int64_t rows = geometry.rows(), channels = geometry.channels;
  p.rows = rows;
  p.channels = channels;
  p.layer = layer_name;
  if (rows > INT32_MAX || channels > INT32_MAX)
    throw Error("layer '" + layer_name + "': " + std::to_string(rows) + " rows of " + std::to_string(channels) +
                " channels are more than cuDNN's int sizes hold");
  p.check(cudnnCreateTensorDescriptor(&p.data_desc), "creating a tensor descriptor");
  p.check(cudnnSetTensor4dDescriptor(p.data_desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, static_cast<int>(rows),
                                     static_cast<int>(channels), 1, 1),
          "describing the batch");
  p.check(cudnnCreateTensorDescriptor(&p.channel_desc), "creating a tensor descriptor");
  p.check(cudnnDeriveBNTensorDescriptor(p.channel_desc, p.data_desc, CUDNN_BATCHNORM_SPATIAL),
          "describing the per-channel statistics");
}

BatchNormPlan::~BatchNormPlan() = default;
int64_t BatchNormPlan::rows() const { return impl_->rows; }
int64_t BatchNormPlan::channels() const { return impl_->channels; }

void BatchNormPlan::forward_training(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                     float* inv_std, double epsilon) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  p.check(cudnnBatchNormalizationForwardTraining(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                 p.data_desc, x, p.data_desc, y, p.channel_desc, gamma, beta,
                                                 /*exponentialAverageFactor=*/0.0, nullptr, nullptr, epsilon, mean,
                                                 inv_std),
          "batch normalization forward (training)");
}

void BatchNormPlan::forward_inference(const float* x, const float* gamma, const float* beta,
                                      const float* moving_mean, const float* moving_var, float* y,
                                      double epsilon) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  p.check(cudnnBatchNormalizationForwardInference(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                  p.data_desc, x, p.data_desc, y, p.channel_desc, gamma, beta,
                                                  moving_mean, moving_var, epsilon),
          "batch normalization forward (inference)");
}

void BatchNormPlan::backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                             const float* dy, float* dx, float* dgamma, float* dbeta, double epsilon) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  p.check(cudnnBatchNormalizationBackward(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one,
                                          &zero, p.data_desc, x, p.data_desc, dy, p.data_desc, dx, p.channel_desc,
                                          gamma, dgamma, dbeta, epsilon, mean, inv_std),
          "batch normalization backward");
}

}  // namespace loom::cuda
