// The GPU side of every op in a build without the CUDA path (CMake's LOOM_CUDA resolved to OFF), in place of the
// kernels/*_cuda.cu, *_cudnn.cpp and *_cublas.cpp sources, which only builds with it compile. Each entry point throws
// the one error engine/runtime/without_cuda.cpp explains (why the seam is a swap of files, not #ifdefs). A cuda::
// function added to an op's header without a line here fails the link of such a build, so none can be forgotten.
#include "engine/runtime/device.h"
#include "kernels/adam.h"
#include "kernels/batch_norm.h"
#include "kernels/bias_activation.h"
#include "kernels/conv2d.h"
#include "kernels/cross_entropy.h"
#include "kernels/dense.h"
#include "kernels/dropout.h"
#include "kernels/gather_batch.h"
#include "kernels/max_pool2d.h"
#include "kernels/relu.h"
#include "kernels/sgd.h"
#include "kernels/softmax.h"
#include "kernels/softmax_cross_entropy.h"
#include "kernels/step_state.h"

namespace loom::cuda {

namespace {
[[noreturn]] void absent(const char* op) { throw_no_cuda_path(std::string(op) + " on the GPU"); }
}  // namespace

void adam_advance(float*, const float*, const AdamHyper&) { absent("adam_advance"); }
void adam_update(float*, const float*, float*, float*, const float*, const AdamHyper&, int64_t) {
  absent("adam_update");
}
void update_moving_statistics(float*, float*, const float*, const float*, int64_t, float, float) {
  absent("batch normalization");
}
void bias_activation_forward(float*, const float*, int64_t, int64_t, Activation) { absent("bias_activation_forward"); }
void bias_activation_backward(const float*, float*, float*, int64_t, int64_t, Activation) {
  absent("bias_activation_backward");
}
void cross_entropy_probabilities(const float*, const int32_t*, float*, float, float*, int64_t, int64_t) {
  absent("cross_entropy_probabilities");
}
void matmul(const float*, const float*, float*, int64_t, int64_t, int64_t) { absent("matmul"); }
void matmul_grad_weight(const float*, const float*, float*, int64_t, int64_t, int64_t) { absent("matmul"); }
void matmul_grad_input(const float*, const float*, float*, int64_t, int64_t, int64_t) { absent("matmul"); }
void dropout(const float*, float*, int64_t, float, PhiloxKey, const int32_t*) { absent("dropout"); }
void gather_augmented_batch(const uint8_t*, const uint8_t*, const int32_t*, const int32_t*, float*, int32_t*, int64_t,
                            ImageLayout, const Augmentation&, PhiloxKey) {
  absent("gather_augmented_batch");
}
void gather_batch(const uint8_t*, const uint8_t*, const int32_t*, const int32_t*, float*, int32_t*, int64_t, int64_t) {
  absent("gather_batch");
}
void relu_forward(const float*, float*, int64_t) { absent("relu_forward"); }
void relu_backward(const float*, const float*, float*, int64_t) { absent("relu_backward"); }
void sgd_update(float*, const float*, const float*, int64_t) { absent("sgd_update"); }
void softmax_forward(const float*, float*, int64_t, int64_t) { absent("softmax_forward"); }
void softmax_backward(const float*, const float*, float*, int64_t, int64_t) { absent("softmax_backward"); }
void softmax_cross_entropy(const float*, const int32_t*, float*, float*, float, float*, int64_t, int64_t) {
  absent("softmax_cross_entropy");
}
void advance_step(int32_t*, int32_t) { absent("advance_step"); }

// The plans: made only for a layer on the GPU, which this build cannot have.
struct Conv2dPlan::Impl {};
Conv2dPlan::Conv2dPlan(const Conv2dGeometry&, const std::string&, bool) { absent("a cuDNN convolution plan"); }
Conv2dPlan::~Conv2dPlan() = default;
const Conv2dGeometry& Conv2dPlan::geometry() const { absent("a cuDNN convolution plan"); }
size_t Conv2dPlan::workspace_bytes() const { absent("a cuDNN convolution plan"); }
bool Conv2dPlan::has_backward_data() const { absent("a cuDNN convolution plan"); }
void Conv2dPlan::require_backward_data() const { absent("a cuDNN convolution plan"); }
Conv2dPlan::PassMaths Conv2dPlan::pass_maths() const { absent("a cuDNN convolution plan"); }
void Conv2dPlan::forward(const float*, const float*, float*) const { absent("conv2d_forward"); }
void Conv2dPlan::backward_data(const float*, const float*, float*) const { absent("conv2d_backward"); }
void Conv2dPlan::backward_filter(const float*, const float*, float*) const { absent("conv2d_backward"); }

struct MaxPool2dPlan::Impl {};
MaxPool2dPlan::MaxPool2dPlan(const MaxPool2dGeometry&, const std::string&) { absent("a cuDNN pooling plan"); }
MaxPool2dPlan::~MaxPool2dPlan() = default;
const MaxPool2dGeometry& MaxPool2dPlan::geometry() const { absent("a cuDNN pooling plan"); }
void MaxPool2dPlan::forward(const float*, float*) const { absent("max_pool2d_forward"); }
void MaxPool2dPlan::backward(const float*, const float*, const float*, float*) const { absent("max_pool2d_backward"); }

struct BatchNormPlan::Impl {};
BatchNormPlan::BatchNormPlan(const BatchNormGeometry&, const std::string&) {
  absent("a cuDNN batch-normalization plan");
}
BatchNormPlan::~BatchNormPlan() = default;
const BatchNormGeometry& BatchNormPlan::geometry() const { absent("a cuDNN batch-normalization plan"); }
void BatchNormPlan::forward_training(const float*, const float*, const float*, float*, float*, float*, double) const {
  absent("batch_norm_forward_training");
}
void BatchNormPlan::forward_inference(const float*, const float*, const float*, const float*, const float*, float*,
                                      double) const {
  absent("batch_norm_forward_inference");
}
void BatchNormPlan::backward(const float*, const float*, const float*, const float*, const float*, float*, float*,
                             float*, double) const {
  absent("batch_norm_backward");
}

}  // namespace loom::cuda
