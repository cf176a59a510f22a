// The GPU side of Conv2D, through cuDNN's classic (descriptor) API.
//
// cuDNN 9 marks this API deprecated in favour of the graph API. It is kept, in the cuDNN callers alone
// (kernels/*_cudnn.cpp), because: the graph API's convenient form (cudnn-frontend) is a header library that Debian
// does not package, and the raw backend API needs several times the code for the same three convolutions and one
// pooling; the classic calls are still shipped and supported in cuDNN 9, and the deprecation warnings are off unless
// CUDNN_WARN_DEPRECATED is set. Moving to the graph API later touches only those files.
//
// Everything per shape (descriptors, algorithm choice, workspace size) is done when a plan is made, once per batch
// size, when the model is prepared; the calls inside a training step only enqueue work.
#include <sstream>
#include <vector>

#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/errors.h"
#include "kernels/conv2d.h"
#include "kernels/cudnn_descriptors.h"

namespace loom::cuda {
namespace {

// The most workspace one convolution algorithm may ask for; faster algorithms that want more are passed over.
constexpr size_t kMaxWorkspaceBytes = size_t(256) << 20;

std::string describe(const Conv2dGeometry& g) {
  std::ostringstream s;
  s << "input (" << g.batch << ", " << g.height << ", " << g.width << ", " << g.in_channels << "), kernel ("
    << g.out_channels << ", " << g.kernel_h << ", " << g.kernel_w << ", " << g.in_channels << "), padding (" << g.pad_h
    << ", " << g.pad_w << ")";
  return s.str();
}

// A convolution descriptor for `g` under `math`.
cudnnConvolutionDescriptor_t convolution(const LayerContext& ctx, const Conv2dGeometry& g, cudnnMathType_t math) {
  cudnnConvolutionDescriptor_t desc = nullptr;
  ctx.check(cudnnCreateConvolutionDescriptor(&desc), "creating a convolution descriptor");
  cudnnStatus_t status = cudnnSetConvolution2dDescriptor(desc, i32(g.pad_h), i32(g.pad_w), 1, 1, 1, 1,
                                                         CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
  if (status == CUDNN_STATUS_SUCCESS) status = cudnnSetConvolutionMathType(desc, math);
  if (status != CUDNN_STATUS_SUCCESS) cudnnDestroyConvolutionDescriptor(desc);
  ctx.check(status, "describing the convolution and its math type");
  return desc;
}

// Tensor-op math would mean TF32 on Ampere and later; loom computes in plain FP32 unless the context opts into TF32
// (CudaContext::set_tf32, read when a plan is made). Never ALLOW_CONVERSION: that would round FP32 data to FP16.
bool math_allowed(cudnnMathType_t math, bool tf32) {
  return math == CUDNN_DEFAULT_MATH || math == CUDNN_FMA_MATH || (tf32 && math == CUDNN_TENSOR_OP_MATH);
}

// The heuristic's best deterministic candidate, so that a GPU run repeats itself (backward-filter ALGO_0/ALGO_3 and
// backward-data ALGO_0 add with atomics); a non-deterministic one only when nothing else fits.
template <class Perf>
Perf pick(const LayerContext& ctx, const std::vector<Perf>& candidates, int returned, bool tf32, const char* pass) {
  auto fits = [tf32](const Perf& p) {
    return p.status == CUDNN_STATUS_SUCCESS && p.memory <= kMaxWorkspaceBytes && math_allowed(p.mathType, tf32);
  };
  for (int i = 0; i < returned; ++i)
    if (fits(candidates[i]) && candidates[i].determinism == CUDNN_DETERMINISTIC) return candidates[i];
  for (int i = 0; i < returned; ++i)
    if (fits(candidates[i])) return candidates[i];
  ctx.check(CUDNN_STATUS_NOT_SUPPORTED, pass);
  return candidates[0];  // not reached
}

}  // namespace

struct Conv2dPlan::Impl {
  Conv2dGeometry g;
  LayerContext ctx;
  cudnnTensorDescriptor_t x_desc = nullptr, y_desc = nullptr;
  cudnnFilterDescriptor_t w_desc = nullptr;
  // The descriptor the algorithms are chosen under, then one per pass carrying its chosen algorithm's math type:
  // cuDNN runs an algorithm under the math type of the descriptor it is given, so the two must agree.
  cudnnConvolutionDescriptor_t conv_desc = nullptr, fwd_desc = nullptr, bwd_data_desc = nullptr,
                               bwd_filter_desc = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_algo{};
  cudnnConvolutionBwdDataAlgo_t bwd_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t bwd_filter_algo{};
  cudnnMathType_t fwd_math = CUDNN_FMA_MATH, bwd_data_math = CUDNN_FMA_MATH, bwd_filter_math = CUDNN_FMA_MATH;
  bool has_backward_data = false;
  size_t workspace = 0;
  // Here rather than in ~Conv2dPlan: a constructor that throws half-way never reaches the plan's destructor.
  ~Impl() {
    for (cudnnConvolutionDescriptor_t desc : {conv_desc, fwd_desc, bwd_data_desc, bwd_filter_desc})
      if (desc) cudnnDestroyConvolutionDescriptor(desc);
    if (w_desc) cudnnDestroyFilterDescriptor(w_desc);
    if (y_desc) cudnnDestroyTensorDescriptor(y_desc);
    if (x_desc) cudnnDestroyTensorDescriptor(x_desc);
  }
};

Conv2dPlan::Conv2dPlan(const Conv2dGeometry& g, const std::string& layer_name, bool backward_data)
    : impl_(std::make_unique<Impl>()) {
  Impl& p = *impl_;
  p.g = g;
  p.ctx = {layer_name, describe(g)};
  const LayerContext& ctx = p.ctx;
  CudaContext& cuda = CudaContext::get();
  cudnnHandle_t handle = cuda.cudnn();

  p.x_desc = nhwc_tensor(ctx, g.batch, g.height, g.width, g.in_channels);
  p.y_desc = nhwc_tensor(ctx, g.batch, g.out_height(), g.out_width(), g.out_channels);
  ctx.check(cudnnCreateFilterDescriptor(&p.w_desc), "creating the filter descriptor");
  ctx.check(cudnnSetFilter4dDescriptor(p.w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, i32(g.out_channels),
                                       i32(g.in_channels), i32(g.kernel_h), i32(g.kernel_w)),
            "describing the filter");
  // FMA math rules tensor cores (and so TF32) out; default math lets cuDNN use TF32 on Ampere and later, as
  // PyTorch's allow_tf32 does.
  const bool tf32 = cuda.tf32();
  p.conv_desc = convolution(ctx, g, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH);
  // Each pass runs under its chosen algorithm's math type with TF32 on; with it off, under FMA math whatever the
  // candidate reported (it was chosen under FMA, and default math would let TF32 back in).
  auto pass_math = [tf32](cudnnMathType_t chosen) { return tf32 ? chosen : CUDNN_FMA_MATH; };

  int n = 0, c = 0, h = 0, w = 0;
  ctx.check(cudnnGetConvolution2dForwardOutputDim(p.conv_desc, p.x_desc, p.w_desc, &n, &c, &h, &w),
            "computing the output shape");
  if (n != g.batch || c != g.out_channels || h != g.out_height() || w != g.out_width())
    throw Error("layer '" + layer_name + "': cuDNN computes output (" + std::to_string(n) + ", " + std::to_string(h) +
                ", " + std::to_string(w) + ", " + std::to_string(c) + ") for " + ctx.shapes);

  // Heuristic choice (no trial runs): the first algorithm that is supported, fits the workspace cap and keeps to the
  // math allowed above (deterministic ones first, see pick). Made once per batch size.
  int returned = 0;
  std::vector<cudnnConvolutionFwdAlgoPerf_t> fwd(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  ctx.check(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x_desc, p.w_desc, p.conv_desc, p.y_desc,
                                                   CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, fwd.data()),
            "choosing the forward algorithm");
  auto f = pick(ctx, fwd, returned, tf32, "no forward algorithm fits");
  p.fwd_algo = f.algo;
  p.fwd_math = pass_math(f.mathType);
  p.fwd_desc = convolution(ctx, g, p.fwd_math);

  if (backward_data) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> bwd_data(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    ctx.check(
        cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, p.w_desc, p.y_desc, p.conv_desc, p.x_desc,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned, bwd_data.data()),
        "choosing the backward-data algorithm");
    auto d = pick(ctx, bwd_data, returned, tf32, "no backward-data algorithm fits");
    p.bwd_data_algo = d.algo;
    p.bwd_data_math = pass_math(d.mathType);
    p.bwd_data_desc = convolution(ctx, g, p.bwd_data_math);
    p.has_backward_data = true;
  }

  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> bwd_filter(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  ctx.check(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, p.x_desc, p.y_desc, p.conv_desc, p.w_desc,
                                                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                          bwd_filter.data()),
            "choosing the backward-filter algorithm");
  auto b = pick(ctx, bwd_filter, returned, tf32, "no backward-filter algorithm fits");
  p.bwd_filter_algo = b.algo;
  p.bwd_filter_math = pass_math(b.mathType);
  p.bwd_filter_desc = convolution(ctx, g, p.bwd_filter_math);

  // Ask for the sizes again for the algorithms chosen (the heuristic's memory field is an estimate).
  size_t bytes = 0;
  ctx.check(
      cudnnGetConvolutionForwardWorkspaceSize(handle, p.x_desc, p.w_desc, p.fwd_desc, p.y_desc, p.fwd_algo, &bytes),
      "sizing the forward workspace");
  p.workspace = bytes;
  if (p.has_backward_data) {
    ctx.check(cudnnGetConvolutionBackwardDataWorkspaceSize(handle, p.w_desc, p.y_desc, p.bwd_data_desc, p.x_desc,
                                                           p.bwd_data_algo, &bytes),
              "sizing the backward-data workspace");
    p.workspace = std::max(p.workspace, bytes);
  }
  ctx.check(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, p.x_desc, p.y_desc, p.bwd_filter_desc, p.w_desc,
                                                           p.bwd_filter_algo, &bytes),
            "sizing the backward-filter workspace");
  p.workspace = std::max(p.workspace, bytes);
  cuda.reserve_workspace(p.workspace);
}

Conv2dPlan::~Conv2dPlan() = default;

const Conv2dGeometry& Conv2dPlan::geometry() const { return impl_->g; }
size_t Conv2dPlan::workspace_bytes() const { return impl_->workspace; }
bool Conv2dPlan::has_backward_data() const { return impl_->has_backward_data; }

Conv2dPlan::PassMaths Conv2dPlan::pass_maths() const {
  auto math = [](cudnnMathType_t m) {
    return m == CUDNN_TENSOR_OP_MATH ? Math::TensorOp : m == CUDNN_DEFAULT_MATH ? Math::Default : Math::Fma;
  };
  return {math(impl_->fwd_math), math(impl_->bwd_data_math), math(impl_->bwd_filter_math)};
}

void Conv2dPlan::require_backward_data() const {
  const Impl& p = *impl_;
  if (!p.has_backward_data)
    throw Error("layer '" + p.ctx.layer + "' (" + p.ctx.shapes + "): an input gradient was asked of a Conv2dPlan " +
                "made without a backward-data algorithm (the layer's input needs no gradient)");
}

void Conv2dPlan::forward(const float* x, const float* w, float* y) const {
  const Impl& p = *impl_;
  CudaContext& cuda = CudaContext::get();
  const float one = 1.f, zero = 0.f;
  p.ctx.check(cudnnConvolutionForward(cuda.cudnn(), &one, p.x_desc, x, p.w_desc, w, p.fwd_desc, p.fwd_algo,
                                      cuda.workspace(), p.workspace, &zero, p.y_desc, y),
              "forward convolution");
}

void Conv2dPlan::backward_data(const float* dy, const float* w, float* dx) const {
  require_backward_data();
  const Impl& p = *impl_;
  CudaContext& cuda = CudaContext::get();
  const float one = 1.f, zero = 0.f;
  p.ctx.check(cudnnConvolutionBackwardData(cuda.cudnn(), &one, p.w_desc, w, p.y_desc, dy, p.bwd_data_desc,
                                           p.bwd_data_algo, cuda.workspace(), p.workspace, &zero, p.x_desc, dx),
              "backward-data convolution");
}

void Conv2dPlan::backward_filter(const float* x, const float* dy, float* dw) const {
  const Impl& p = *impl_;
  CudaContext& cuda = CudaContext::get();
  const float one = 1.f, zero = 0.f;
  p.ctx.check(cudnnConvolutionBackwardFilter(cuda.cudnn(), &one, p.x_desc, x, p.y_desc, dy, p.bwd_filter_desc,
                                             p.bwd_filter_algo, cuda.workspace(), p.workspace, &zero, p.w_desc, dw),
              "backward-filter convolution");
}

}  // namespace loom::cuda
