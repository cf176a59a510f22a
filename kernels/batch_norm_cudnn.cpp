// The GPU side of BatchNormalization, through cuDNN's classic batch-normalization calls (kept for the same reasons
// as kernels/conv2d_cudnn.cpp gives; deprecation warnings stay off unless CUDNN_WARN_DEPRECATED is set).
//
// The batch is described to cuDNN as it is: `batch` samples in NHWC of `pixels` × 1 positions (an image's h·w rows
// of pixels, the same bytes as h × w; 1 for a Dense output) of `channels` each, in spatial mode (one mean and
// variance per channel over every sample and position). Folding the pixels into cuDNN's batch dimension instead
// would hand its spatial kernels a batch of batch·h·w, and those kernels are limited in their batch: PyTorch,
// which verified the figures, hands cuDNN at most 65,535 samples in inference and 880,801 in training
// (aten/src/ATen/native/Normalization.cpp). Inference is per sample, so a larger batch is normalized in chunks of
// at most 65,535; training needs the whole batch's statistics, so a larger training batch is refused in words.
//
// cuDNN's own running averages are not used (it would update the variance with the unbiased estimate; Keras uses
// the biased one): the moving statistics are updated by cuda::update_moving_statistics from the saved batch
// statistics.
#include <algorithm>
#include <cstdint>
#include <string>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "kernels/batch_norm.h"

namespace loom::cuda {

struct BatchNormPlan::Impl {
  BatchNormGeometry geometry;
  std::string layer;
  // The whole batch (training, and inference up to the chunk size); a full inference chunk and the chunk left over
  // (only for batches above the chunk size).
  cudnnTensorDescriptor_t batch_desc = nullptr, chunk_desc = nullptr, rest_desc = nullptr;
  cudnnTensorDescriptor_t channel_desc = nullptr;
  void check(cudnnStatus_t status, const char* what) const {
    if (status != CUDNN_STATUS_SUCCESS)
      throw Error("cuDNN error in layer '" + layer + "' (batch " + std::to_string(geometry.batch) + " of " +
                  std::to_string(geometry.pixels) + " positions of " + std::to_string(geometry.channels) +
                  " channels): " + what + ": " + cudnnGetErrorString(status));
  }
  // An NHWC descriptor of `samples` samples of this plan's positions and channels.
  cudnnTensorDescriptor_t describe(int64_t samples) const {
    cudnnTensorDescriptor_t desc = nullptr;
    check(cudnnCreateTensorDescriptor(&desc), "creating a tensor descriptor");
    const cudnnStatus_t status =
        cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, static_cast<int>(samples),
                                   static_cast<int>(geometry.channels), static_cast<int>(geometry.pixels), 1);
    if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyTensorDescriptor(desc);
    check(status, "describing the batch");
    return desc;
  }
  ~Impl() {
    for (cudnnTensorDescriptor_t desc : {channel_desc, rest_desc, chunk_desc, batch_desc})
      if (desc) cudnnDestroyTensorDescriptor(desc);
  }
};

BatchNormPlan::BatchNormPlan(const BatchNormGeometry& geometry, const std::string& layer_name)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.geometry = geometry;
  p.layer = layer_name;
  if (geometry.batch <= 0 || geometry.pixels <= 0 || geometry.channels <= 0)
    throw Error("layer '" + layer_name + "': batch normalization needs a non-empty batch, got batch " +
                std::to_string(geometry.batch) + " of " + std::to_string(geometry.pixels) + " positions of " +
                std::to_string(geometry.channels) + " channels");
  if (geometry.batch > INT32_MAX / (geometry.pixels * geometry.channels))
    throw Error("layer '" + layer_name + "': a batch of " + std::to_string(geometry.batch) + " samples of " +
                std::to_string(geometry.pixels) + " positions of " + std::to_string(geometry.channels) +
                " channels is more than cuDNN's int sizes hold");
  p.batch_desc = p.describe(geometry.batch);
  if (geometry.batch > kMaxInferenceChunk) {
    p.chunk_desc = p.describe(kMaxInferenceChunk);
    if (geometry.batch % kMaxInferenceChunk) p.rest_desc = p.describe(geometry.batch % kMaxInferenceChunk);
  }
  p.check(cudnnCreateTensorDescriptor(&p.channel_desc), "creating a tensor descriptor");
  p.check(cudnnDeriveBNTensorDescriptor(p.channel_desc, p.batch_desc, CUDNN_BATCHNORM_SPATIAL),
          "describing the per-channel statistics");
}

BatchNormPlan::~BatchNormPlan() = default;
const BatchNormGeometry& BatchNormPlan::geometry() const { return impl_->geometry; }

namespace {
void check_training_batch(const BatchNormPlan::Impl& p) {
  if (p.geometry.batch > BatchNormPlan::kMaxTrainingBatch)
    throw Error("layer '" + p.layer + "': cuDNN's batch normalization trains on at most " +
                std::to_string(BatchNormPlan::kMaxTrainingBatch) + " samples a batch, got " +
                std::to_string(p.geometry.batch) + ": use a smaller batch size");
}
}  // namespace

void BatchNormPlan::forward_training(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                     float* inv_std, double epsilon) const {
  const Impl& p = *impl_;
  check_training_batch(p);
  const float one = 1.f, zero = 0.f;
  p.check(cudnnBatchNormalizationForwardTraining(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                 p.batch_desc, x, p.batch_desc, y, p.channel_desc, gamma, beta,
                                                 /*exponentialAverageFactor=*/0.0, nullptr, nullptr, epsilon, mean,
                                                 inv_std),
          "batch normalization forward (training)");
}

void BatchNormPlan::forward_inference(const float* x, const float* gamma, const float* beta, const float* moving_mean,
                                      const float* moving_var, float* y, double epsilon) const {
  const Impl& p = *impl_;
  const float one = 1.f, zero = 0.f;
  const int64_t sample_floats = p.geometry.pixels * p.geometry.channels;
  for (int64_t first = 0; first < p.geometry.batch; first += kMaxInferenceChunk) {
    const int64_t samples = std::min(kMaxInferenceChunk, p.geometry.batch - first);
    const cudnnTensorDescriptor_t desc = p.geometry.batch <= kMaxInferenceChunk ? p.batch_desc
                                         : samples == kMaxInferenceChunk        ? p.chunk_desc
                                                                                : p.rest_desc;
    p.check(cudnnBatchNormalizationForwardInference(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero,
                                                    desc, x + first * sample_floats, desc, y + first * sample_floats,
                                                    p.channel_desc, gamma, beta, moving_mean, moving_var, epsilon),
            "batch normalization forward (inference)");
  }
}

void BatchNormPlan::backward(const float* x, const float* gamma, const float* mean, const float* inv_std,
                             const float* dy, float* dx, float* dgamma, float* dbeta, double epsilon) const {
  const Impl& p = *impl_;
  check_training_batch(p);
  const float one = 1.f, zero = 0.f;
  p.check(cudnnBatchNormalizationBackward(CudaContext::get().cudnn(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero,
                                          p.batch_desc, x, p.batch_desc, dy, p.batch_desc, dx, p.channel_desc, gamma,
                                          dgamma, dbeta, epsilon, mean, inv_std),
          "batch normalization backward");
}

}  // namespace loom::cuda
