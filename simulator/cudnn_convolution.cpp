// The simulated cuDNN's 2-d convolutions: the output shape, the algorithm and workspace queries, and the forward,
// backward-data and backward-filter passes for any descriptors (strides, padding, dilation, groups, convolution or
// cross-correlation).
//
// Each pass runs, per sample and group, as a gather of the input patches into a matrix (im2col), one OpenBLAS sgemm
// and a scatter back through the output's strides. The tensors are read and written through their descriptors only,
// so a descriptor that says the wrong thing (padding, layout) gives a different answer, as it would on the GPU.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "simulator/cudnn_descriptors.h"
#include "simulator/tf32.h"

namespace loom::sim::dnn {
namespace {

// Everything a queued pass needs, copied from the descriptors at the call. w is K × C/groups × R × S.
struct Geometry {
  View4 x, w, y;
  int pad_h = 0, pad_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1, groups = 1;
  bool flip = false;  // CUDNN_CONVOLUTION: the filter is applied rotated by 180°
  bool tf32 = false;  // the math type lets cuDNN round the operands to TF32
  int64_t rows() const { return int64_t(w.c) * w.h * w.w; }  // of the patch matrix: one per (c, r, s)
  int64_t pixels() const { return int64_t(y.h) * y.w; }      // its columns: one per output position
  int per_group() const { return w.n / groups; }
};

int output_extent(int input, int pad, int filter, int dilation, int stride) {
  return 1 + (input + 2 * pad - ((filter - 1) * dilation + 1)) / stride;
}

// The checks cudnnGetConvolution2dForwardOutputDim and every later call share; y is filled with the output shape.
cudnnStatus_t describe_input(const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
                             Geometry* g) {
  if (!conv || !conv->set) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = view_of(x, &g->x)) return status;
  if (cudnnStatus_t status = view_of(w, &g->w)) return status;
  if (conv->compute_type != CUDNN_DATA_FLOAT) return CUDNN_STATUS_NOT_SUPPORTED;
  if (g->x.c != g->w.c * conv->groups || g->w.n % conv->groups != 0) return CUDNN_STATUS_BAD_PARAM;
  const int h = output_extent(g->x.h, conv->pad_h, g->w.h, conv->dilation_h, conv->stride_h);
  const int wd = output_extent(g->x.w, conv->pad_w, g->w.w, conv->dilation_w, conv->stride_w);
  // The dilated filter larger than the padded input: cuDNN's formula would give no output position.
  if ((g->w.h - 1) * conv->dilation_h + 1 > g->x.h + 2 * conv->pad_h ||
      (g->w.w - 1) * conv->dilation_w + 1 > g->x.w + 2 * conv->pad_w || h <= 0 || wd <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  g->y = packed(CUDNN_TENSOR_NCHW, g->x.n, g->w.n, h, wd);
  g->pad_h = conv->pad_h, g->pad_w = conv->pad_w, g->stride_h = conv->stride_h, g->stride_w = conv->stride_w;
  g->dilation_h = conv->dilation_h, g->dilation_w = conv->dilation_w, g->groups = conv->groups;
  g->flip = conv->mode == CUDNN_CONVOLUTION;
  g->tf32 = uses_tf32(conv->math);
  return CUDNN_STATUS_SUCCESS;
}

// describe_input, then the output descriptor, which must have the shape the convolution gives.
cudnnStatus_t describe(const cudnnTensorStruct* x, const cudnnFilterStruct* w, const cudnnConvolutionStruct* conv,
                       const cudnnTensorStruct* y, Geometry* g) {
  if (cudnnStatus_t status = describe_input(x, w, conv, g)) return status;
  View4 out;
  if (cudnnStatus_t status = view_of(y, &out)) return status;
  if (!out.same_dims(g->y)) return CUDNN_STATUS_BAD_PARAM;
  g->y = out;
  return CUDNN_STATUS_SUCCESS;
}

// ---- the algorithms the queries offer (every one computes the same way here; they differ in what they report) ----

struct Candidate {
  int algo;
  bool supported;
  cudnnDeterminism_t determinism;
  size_t bytes;
};

enum class Pass { Forward, BackwardData, BackwardFilter };

// In the order of cuDNN's heuristics (fastest first), a non-deterministic algorithm ahead of the deterministic one
// where cuDNN has one, and an algorithm cuDNN cannot run for every shape reported as NOT_SUPPORTED.
std::vector<Candidate> candidates(Pass pass, const Geometry& g) {
  const size_t patch_bytes = size_t(g.rows()) * g.pixels() * sizeof(float);
  const size_t filter_bytes = size_t(g.w.n) * g.rows() * sizeof(float);
  switch (pass) {
    case Pass::Forward:
      return {{CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, true, CUDNN_DETERMINISTIC, 0},
              {CUDNN_CONVOLUTION_FWD_ALGO_GEMM, true, CUDNN_DETERMINISTIC, patch_bytes},
              {CUDNN_CONVOLUTION_FWD_ALGO_FFT, false, CUDNN_DETERMINISTIC, 0}};
    case Pass::BackwardData:
      return {{CUDNN_CONVOLUTION_BWD_DATA_ALGO_0, true, CUDNN_NON_DETERMINISTIC, 0},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, true, CUDNN_DETERMINISTIC, 0},
              {CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT, false, CUDNN_DETERMINISTIC, 0}};
    case Pass::BackwardFilter:
      return {{CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, true, CUDNN_NON_DETERMINISTIC, 0},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, true, CUDNN_DETERMINISTIC, 0},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, true, CUDNN_NON_DETERMINISTIC, filter_bytes},
              {CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, false, CUDNN_DETERMINISTIC, 0}};
  }
  return {};
}

int algo_count(Pass pass) {
  switch (pass) {
    case Pass::Forward:
      return CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    case Pass::BackwardData:
      return CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
    case Pass::BackwardFilter:
      return CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  }
  return 0;
}

// The workspace `algo` needs: BAD_PARAM for no such algorithm, NOT_SUPPORTED for one that cannot run this shape.
cudnnStatus_t workspace_of(Pass pass, const Geometry& g, int algo, size_t* bytes) {
  if (algo < 0 || algo >= algo_count(pass)) return CUDNN_STATUS_BAD_PARAM;
  for (const Candidate& c : candidates(pass, g))
    if (c.algo == algo && c.supported) {
      *bytes = c.bytes;
      return CUDNN_STATUS_SUCCESS;
    }
  return CUDNN_STATUS_NOT_SUPPORTED;
}

// Heuristics only (no trial run): the time is reported as -1 and the math type is the descriptor's.
template <class Perf, class Algo>
cudnnStatus_t report(Pass pass, const Geometry& g, cudnnMathType_t math, int requested, int* returned, Perf* perf) {
  if (!returned || !perf || requested < 1) return CUDNN_STATUS_BAD_PARAM;
  const std::vector<Candidate> all = candidates(pass, g);
  *returned = std::min(requested, static_cast<int>(all.size()));
  for (int i = 0; i < *returned; ++i) {
    perf[i] = Perf{};
    perf[i].algo = static_cast<Algo>(all[i].algo);
    perf[i].status = all[i].supported ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_SUPPORTED;
    perf[i].time = -1.f;
    perf[i].memory = all[i].bytes;
    perf[i].determinism = all[i].determinism;
    perf[i].mathType = math;
  }
  return CUDNN_STATUS_SUCCESS;
}

// ---- the passes ----

float operand(const Geometry& g, float value) { return g.tf32 ? round_to_tf32(value) : value; }

// The filter as a K × (C/groups·R·S) row-major matrix, rotated for CUDNN_CONVOLUTION, so that every pass can use the
// patches of the input unrotated.
int64_t filter_at(const Geometry& g, int k, int64_t row) {
  const int s = int(row % g.w.w), r = int(row / g.w.w % g.w.h), c = int(row / (int64_t(g.w.w) * g.w.h));
  return g.w.at(k, c, g.flip ? g.w.h - 1 - r : r, g.flip ? g.w.w - 1 - s : s);
}

std::vector<float> filter_matrix(const Geometry& g, const float* w) {
  std::vector<float> m(size_t(g.w.n) * g.rows());
  for (int k = 0; k < g.w.n; ++k)
    for (int64_t row = 0; row < g.rows(); ++row) m[k * g.rows() + row] = operand(g, w[filter_at(g, k, row)]);
  return m;
}

// Calls f(row, column, input height, input width) for every entry of the patch matrix; positions in the padding
// have coordinates outside the input.
template <class F>
void for_each_patch_entry(const Geometry& g, F f) {
  for (int64_t row = 0; row < g.rows(); ++row) {
    const int s = int(row % g.w.w), r = int(row / g.w.w % g.w.h);
    for (int p = 0; p < g.y.h; ++p)
      for (int q = 0; q < g.y.w; ++q)
        f(row, int64_t(p) * g.y.w + q, p * g.stride_h - g.pad_h + r * g.dilation_h,
          q * g.stride_w - g.pad_w + s * g.dilation_w);
  }
}

bool inside(const View4& v, int h, int w) { return h >= 0 && h < v.h && w >= 0 && w < v.w; }
int channel_of(const Geometry& g, int group, int64_t row) {
  return group * g.w.c + int(row / (int64_t(g.w.h) * g.w.w));
}

void gather_patches(const Geometry& g, const float* x, int n, int group, float* patches) {
  for_each_patch_entry(g, [&](int64_t row, int64_t col, int h, int w) {
    patches[row * g.pixels() + col] =
        inside(g.x, h, w) ? operand(g, x[g.x.at(n, channel_of(g, group, row), h, w)]) : 0.f;
  });
}

// One group's channels of one sample of y (or dy) as a (K/groups) × pixels matrix.
void gather_output(const Geometry& g, const float* y, int n, int group, float* m) {
  for (int k = 0; k < g.per_group(); ++k)
    for (int p = 0; p < g.y.h; ++p)
      for (int q = 0; q < g.y.w; ++q)
        m[k * g.pixels() + p * g.y.w + q] = operand(g, y[g.y.at(n, group * g.per_group() + k, p, q)]);
}

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float beta,
          float* c) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.f, a, trans_a ? int(m) : int(k), b, trans_b ? int(k) : int(n), beta, c, int(n));
}

void forward(const Geometry& g, const float* x, const float* w, float* y, float alpha, float beta) {
  const std::vector<float> filter = filter_matrix(g, w);
  const int64_t per_group = g.per_group();
#pragma omp parallel
  {
    std::vector<float> patches(g.rows() * g.pixels()), out(per_group * g.pixels());
#pragma omp for schedule(static)
    for (int n = 0; n < g.x.n; ++n)
      for (int group = 0; group < g.groups; ++group) {
        gather_patches(g, x, n, group, patches.data());
        gemm(false, false, per_group, g.pixels(), g.rows(), filter.data() + group * per_group * g.rows(),
             patches.data(), 0.f, out.data());
        for (int k = 0; k < per_group; ++k)
          for (int p = 0; p < g.y.h; ++p)
            for (int q = 0; q < g.y.w; ++q) {
              float& dst = y[g.y.at(n, group * int(per_group) + k, p, q)];
              dst = blend(alpha, out[k * g.pixels() + p * g.y.w + q], beta, dst);
            }
      }
  }
}

void backward_data(const Geometry& g, const float* w, const float* dy, float* dx, float alpha, float beta) {
  const std::vector<float> filter = filter_matrix(g, w);
  const int64_t per_group = g.per_group(), image = int64_t(g.x.c) * g.x.h * g.x.w;
#pragma omp parallel
  {
    std::vector<float> grad(per_group * g.pixels()), patches(g.rows() * g.pixels()), sum(image);
#pragma omp for schedule(static)
    for (int n = 0; n < g.x.n; ++n) {
      std::fill(sum.begin(), sum.end(), 0.f);
      for (int group = 0; group < g.groups; ++group) {
        gather_output(g, dy, n, group, grad.data());
        gemm(true, false, g.rows(), g.pixels(), per_group, filter.data() + group * per_group * g.rows(), grad.data(),
             0.f, patches.data());
        for_each_patch_entry(g, [&](int64_t row, int64_t col, int h, int w) {
          if (inside(g.x, h, w))
            sum[(int64_t(channel_of(g, group, row)) * g.x.h + h) * g.x.w + w] += patches[row * g.pixels() + col];
        });
      }
      for (int c = 0; c < g.x.c; ++c)
        for (int h = 0; h < g.x.h; ++h)
          for (int w = 0; w < g.x.w; ++w) {
            float& dst = dx[g.x.at(n, c, h, w)];
            dst = blend(alpha, sum[(int64_t(c) * g.x.h + h) * g.x.w + w], beta, dst);
          }
    }
  }
}

// The samples are summed in a fixed number of chunks, in order, so that the result does not depend on the number of
// threads.
void backward_filter(const Geometry& g, const float* x, const float* dy, float* dw, float alpha, float beta) {
  constexpr int kChunks = 16;
  const int chunks = std::min(kChunks, g.x.n);
  const int64_t per_group = g.per_group(), filter_size = int64_t(g.w.n) * g.rows();
  std::vector<float> partial(size_t(chunks) * filter_size, 0.f);
#pragma omp parallel
  {
    std::vector<float> grad(per_group * g.pixels()), patches(g.rows() * g.pixels());
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < chunks; ++chunk)
      for (int n = int(int64_t(g.x.n) * chunk / chunks); n < int64_t(g.x.n) * (chunk + 1) / chunks; ++n)
        for (int group = 0; group < g.groups; ++group) {
          gather_output(g, dy, n, group, grad.data());
          gather_patches(g, x, n, group, patches.data());
          gemm(false, true, per_group, g.rows(), g.pixels(), grad.data(), patches.data(), 1.f,
               partial.data() + chunk * filter_size + group * per_group * g.rows());
        }
  }
  for (int k = 0; k < g.w.n; ++k)
    for (int64_t row = 0; row < g.rows(); ++row) {
      double total = 0;
      for (int chunk = 0; chunk < chunks; ++chunk) total += partial[chunk * filter_size + k * g.rows() + row];
      float& dst = dw[filter_at(g, k, row)];
      dst = blend(alpha, total, beta, dst);
    }
}

// What the three passes check before queueing: the handle and pointers, the algorithm and its workspace, operands
// in device memory.
struct Operand {
  const char* name;
  const void* pointer;
  size_t bytes;
};

cudnnStatus_t check_call(const Call& call, cudnnHandle_t handle, const void* alpha, const void* beta, Pass pass,
                         const Geometry& g, int algo, void* workspace, size_t workspace_bytes,
                         std::initializer_list<Operand> operands) {
  if (!handle || !alpha || !beta) return CUDNN_STATUS_BAD_PARAM;
  for (const Operand& o : operands)
    if (!o.pointer) return CUDNN_STATUS_BAD_PARAM;
  size_t needed = 0;
  if (cudnnStatus_t status = workspace_of(pass, g, algo, &needed)) return status;
  if (workspace_bytes < needed) return CUDNN_STATUS_BAD_PARAM;
  if (needed > 0 && !call.on_device("workSpace", workspace, needed)) return Call::failed();
  for (const Operand& o : operands)
    if (!call.on_device(o.name, o.pointer, o.bytes)) return Call::failed();
  return CUDNN_STATUS_SUCCESS;
}

}  // namespace
}  // namespace loom::sim::dnn

using namespace loom::sim::dnn;

extern "C" {

cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(const cudnnConvolutionDescriptor_t conv,
                                                    const cudnnTensorDescriptor_t x, const cudnnFilterDescriptor_t w,
                                                    int* n, int* c, int* h, int* wd) {
  Geometry g;
  if (!n || !c || !h || !wd) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe_input(x, w, conv, &g)) return status;
  *n = g.y.n, *c = g.y.c, *h = g.y.h, *wd = g.y.w;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                     const cudnnFilterDescriptor_t w,
                                                     const cudnnConvolutionDescriptor_t conv,
                                                     const cudnnTensorDescriptor_t y, const int requested,
                                                     int* returned, cudnnConvolutionFwdAlgoPerf_t* perf) {
  Geometry g;
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(x, w, conv, y, &g)) return status;
  return report<cudnnConvolutionFwdAlgoPerf_t, cudnnConvolutionFwdAlgo_t>(Pass::Forward, g, conv->math, requested,
                                                                          returned, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataAlgorithm_v7(cudnnHandle_t handle, const cudnnFilterDescriptor_t w,
                                                          const cudnnTensorDescriptor_t dy,
                                                          const cudnnConvolutionDescriptor_t conv,
                                                          const cudnnTensorDescriptor_t dx, const int requested,
                                                          int* returned, cudnnConvolutionBwdDataAlgoPerf_t* perf) {
  Geometry g;
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(dx, w, conv, dy, &g)) return status;
  return report<cudnnConvolutionBwdDataAlgoPerf_t, cudnnConvolutionBwdDataAlgo_t>(Pass::BackwardData, g, conv->math,
                                                                                  requested, returned, perf);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterAlgorithm_v7(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                            const cudnnTensorDescriptor_t dy,
                                                            const cudnnConvolutionDescriptor_t conv,
                                                            const cudnnFilterDescriptor_t dw, const int requested,
                                                            int* returned, cudnnConvolutionBwdFilterAlgoPerf_t* perf) {
  Geometry g;
  if (!handle) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(x, dw, conv, dy, &g)) return status;
  return report<cudnnConvolutionBwdFilterAlgoPerf_t, cudnnConvolutionBwdFilterAlgo_t>(
      Pass::BackwardFilter, g, conv->math, requested, returned, perf);
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                      const cudnnFilterDescriptor_t w,
                                                      const cudnnConvolutionDescriptor_t conv,
                                                      const cudnnTensorDescriptor_t y, cudnnConvolutionFwdAlgo_t algo,
                                                      size_t* bytes) {
  Geometry g;
  if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(x, w, conv, y, &g)) return status;
  return workspace_of(Pass::Forward, g, algo, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t handle, const cudnnFilterDescriptor_t w,
                                                           const cudnnTensorDescriptor_t dy,
                                                           const cudnnConvolutionDescriptor_t conv,
                                                           const cudnnTensorDescriptor_t dx,
                                                           cudnnConvolutionBwdDataAlgo_t algo, size_t* bytes) {
  Geometry g;
  if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(dx, w, conv, dy, &g)) return status;
  return workspace_of(Pass::BackwardData, g, algo, bytes);
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t handle, const cudnnTensorDescriptor_t x,
                                                             const cudnnTensorDescriptor_t dy,
                                                             const cudnnConvolutionDescriptor_t conv,
                                                             const cudnnFilterDescriptor_t dw,
                                                             cudnnConvolutionBwdFilterAlgo_t algo, size_t* bytes) {
  Geometry g;
  if (!handle || !bytes) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(x, dw, conv, dy, &g)) return status;
  return workspace_of(Pass::BackwardFilter, g, algo, bytes);
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t handle, const void* alpha, const cudnnTensorDescriptor_t x_desc,
                                      const void* x, const cudnnFilterDescriptor_t w_desc, const void* w,
                                      const cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo,
                                      void* workspace, size_t workspace_bytes, const void* beta,
                                      const cudnnTensorDescriptor_t y_desc, void* y) {
  const Call call(handle, "cudnnConvolutionForward");
  Geometry g;
  if (cudnnStatus_t status = describe(x_desc, w_desc, conv, y_desc, &g)) return status;
  if (cudnnStatus_t status = check_call(call, handle, alpha, beta, Pass::Forward, g, algo, workspace, workspace_bytes,
                                        {{"x", x, g.x.bytes()}, {"w", w, g.w.bytes()}, {"y", y, g.y.bytes()}}))
    return status;
  return call.queue([g, a = scalar(alpha), b = scalar(beta), x = static_cast<const float*>(x),
                     w = static_cast<const float*>(w), y = static_cast<float*>(y)] { forward(g, x, w, y, a, b); });
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t handle, const void* alpha,
                                           const cudnnFilterDescriptor_t w_desc, const void* w,
                                           const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                           const cudnnConvolutionDescriptor_t conv, cudnnConvolutionBwdDataAlgo_t algo,
                                           void* workspace, size_t workspace_bytes, const void* beta,
                                           const cudnnTensorDescriptor_t dx_desc, void* dx) {
  const Call call(handle, "cudnnConvolutionBackwardData");
  Geometry g;
  if (cudnnStatus_t status = describe(dx_desc, w_desc, conv, dy_desc, &g)) return status;
  if (cudnnStatus_t status =
          check_call(call, handle, alpha, beta, Pass::BackwardData, g, algo, workspace, workspace_bytes,
                     {{"w", w, g.w.bytes()}, {"dy", dy, g.y.bytes()}, {"dx", dx, g.x.bytes()}}))
    return status;
  return call.queue([g, a = scalar(alpha), b = scalar(beta), w = static_cast<const float*>(w),
                     dy = static_cast<const float*>(dy),
                     dx = static_cast<float*>(dx)] { backward_data(g, w, dy, dx, a, b); });
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t handle, const void* alpha,
                                             const cudnnTensorDescriptor_t x_desc, const void* x,
                                             const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                             const cudnnConvolutionDescriptor_t conv,
                                             cudnnConvolutionBwdFilterAlgo_t algo, void* workspace,
                                             size_t workspace_bytes, const void* beta,
                                             const cudnnFilterDescriptor_t dw_desc, void* dw) {
  const Call call(handle, "cudnnConvolutionBackwardFilter");
  Geometry g;
  if (cudnnStatus_t status = describe(x_desc, dw_desc, conv, dy_desc, &g)) return status;
  if (cudnnStatus_t status =
          check_call(call, handle, alpha, beta, Pass::BackwardFilter, g, algo, workspace, workspace_bytes,
                     {{"x", x, g.x.bytes()}, {"dy", dy, g.y.bytes()}, {"dw", dw, g.w.bytes()}}))
    return status;
  return call.queue([g, a = scalar(alpha), b = scalar(beta), x = static_cast<const float*>(x),
                     dy = static_cast<const float*>(dy),
                     dw = static_cast<float*>(dw)] { backward_filter(g, x, dy, dw, a, b); });
}

}  // extern "C"
