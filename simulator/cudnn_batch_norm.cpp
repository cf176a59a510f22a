// The simulated cuDNN's batch normalization (the classic calls): the derived statistics descriptor, training and
// inference forward passes and the backward pass, in spatial mode (one mean and variance per channel, over the batch
// and the positions) and per-activation mode (one per channel and position, over the batch). Statistics are
// accumulated in double.
#include <cmath>

#include "simulator/cudnn_descriptors.h"

namespace loom::sim::dnn {
namespace {

// Everything a queued pass needs, copied at the call: x, its companion y (or dy), dx (backward only) and the
// statistics' descriptor (1×C×1×1 spatial, 1×C×H×W per activation).
struct Norm {
  View4 x, y, dx, param;
  bool spatial = true;
  int64_t features() const { return spatial ? x.c : int64_t(x.c) * x.h * x.w; }
  // How many values each mean is taken over.
  int64_t count() const { return spatial ? int64_t(x.n) * x.h * x.w : x.n; }
  // Calls visit(n, c, h, w) for every element of feature f.
  template <class F>
  void for_each(int64_t f, F visit) const {
    const int c = spatial ? int(f) : int(f / (int64_t(x.h) * x.w));
    const int h0 = spatial ? 0 : int(f / x.w % x.h), h1 = spatial ? x.h : h0 + 1;
    const int w0 = spatial ? 0 : int(f % x.w), w1 = spatial ? x.w : w0 + 1;
    for (int n = 0; n < x.n; ++n)
      for (int h = h0; h < h1; ++h)
        for (int w = w0; w < w1; ++w) visit(n, c, h, w);
  }
  int64_t param_at(int64_t f) const {
    return spatial ? param.at(0, int(f), 0, 0)
                   : param.at(0, int(f / (int64_t(x.h) * x.w)), int(f / x.w % x.h), int(f % x.w));
  }
};

bool valid_mode(cudnnBatchNormMode_t mode) {
  return mode == CUDNN_BATCHNORM_PER_ACTIVATION || mode == CUDNN_BATCHNORM_SPATIAL ||
         mode == CUDNN_BATCHNORM_SPATIAL_PERSISTENT;
}

// x and y (and dx when given) must have one shape, and the statistics the shape the mode gives.
cudnnStatus_t describe(cudnnBatchNormMode_t mode, const cudnnTensorStruct* x, const cudnnTensorStruct* y,
                       const cudnnTensorStruct* dx, const cudnnTensorStruct* param, Norm* g) {
  if (!valid_mode(mode)) return CUDNN_STATUS_BAD_PARAM;
  g->spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
  if (cudnnStatus_t status = view_of(x, &g->x)) return status;
  if (cudnnStatus_t status = view_of(y, &g->y)) return status;
  if (dx) {
    if (cudnnStatus_t status = view_of(dx, &g->dx)) return status;
    if (!g->dx.same_dims(g->x)) return CUDNN_STATUS_BAD_PARAM;
  }
  if (cudnnStatus_t status = view_of(param, &g->param)) return status;
  const View4 expected = packed(CUDNN_TENSOR_NCHW, 1, g->x.c, g->spatial ? 1 : g->x.h, g->spatial ? 1 : g->x.w);
  if (!g->y.same_dims(g->x) || !g->param.same_dims(expected)) return CUDNN_STATUS_BAD_PARAM;
  return CUDNN_STATUS_SUCCESS;
}

struct Moments {
  double mean, variance;  // the biased variance, the one that normalizes
};

Moments moments(const Norm& g, const float* x, int64_t f) {
  double sum = 0, squares = 0;
  g.for_each(f, [&](int n, int c, int h, int w) { sum += x[g.x.at(n, c, h, w)]; });
  const double mean = sum / g.count();
  g.for_each(f, [&](int n, int c, int h, int w) {
    const double d = x[g.x.at(n, c, h, w)] - mean;
    squares += d * d;
  });
  return {mean, squares / g.count()};
}

// y = alpha·(gamma·(x − mean)·inv_std + beta) + beta_out·y for every element of feature f.
void normalize(const Norm& g, const float* x, float* y, int64_t f, double mean, double inv_std, double gamma,
               double beta, float alpha_out, float beta_out) {
  g.for_each(f, [&](int n, int c, int h, int w) {
    float& dst = y[g.y.at(n, c, h, w)];
    dst = blend(alpha_out, gamma * (x[g.x.at(n, c, h, w)] - mean) * inv_std + beta, beta_out, dst);
  });
}

struct Training {
  const float *x, *scale, *bias;
  float *y, *running_mean, *running_variance, *saved_mean, *saved_inv_std;
  float alpha, beta;
  double factor, epsilon;
};

void forward_training(const Norm& g, const Training& t) {
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < g.features(); ++f) {
    const Moments m = moments(g, t.x, f);
    const double inv_std = 1.0 / std::sqrt(m.variance + t.epsilon);
    const int64_t at = g.param_at(f);
    normalize(g, t.x, t.y, f, m.mean, inv_std, t.scale[at], t.bias[at], t.alpha, t.beta);
    if (t.saved_mean) {
      t.saved_mean[at] = float(m.mean);
      t.saved_inv_std[at] = float(inv_std);
    }
    // The running variance takes the unbiased estimate, as cuDNN documents (one value: its own variance, 0).
    if (t.running_mean) {
      const double n = double(g.count()), unbiased = n > 1 ? m.variance * n / (n - 1) : m.variance;
      t.running_mean[at] = float(t.factor * m.mean + (1 - t.factor) * t.running_mean[at]);
      t.running_variance[at] = float(t.factor * unbiased + (1 - t.factor) * t.running_variance[at]);
    }
  }
}

struct Backward {
  const float *x, *dy, *scale, *saved_mean, *saved_inv_std;
  float *dx, *dscale, *dbias;
  float alpha_data, beta_data, alpha_param, beta_param;
  double epsilon;
};

void backward(const Norm& g, const Backward& b) {
#pragma omp parallel for schedule(static)
  for (int64_t f = 0; f < g.features(); ++f) {
    const int64_t at = g.param_at(f);
    double mean, inv_std;
    if (b.saved_mean) {
      mean = b.saved_mean[at], inv_std = b.saved_inv_std[at];
    } else {
      const Moments m = moments(g, b.x, f);
      mean = m.mean, inv_std = 1.0 / std::sqrt(m.variance + b.epsilon);
    }
    double dbias = 0, dscale = 0;
    g.for_each(f, [&](int n, int c, int h, int w) {
      const double dy = b.dy[g.y.at(n, c, h, w)];
      dbias += dy;
      dscale += dy * (b.x[g.x.at(n, c, h, w)] - mean) * inv_std;
    });
    const double count = double(g.count()), k = b.scale[at] * inv_std / count;
    g.for_each(f, [&](int n, int c, int h, int w) {
      const double x_hat = (b.x[g.x.at(n, c, h, w)] - mean) * inv_std;
      float& dst = b.dx[g.dx.at(n, c, h, w)];
      dst = blend(b.alpha_data, k * (count * b.dy[g.y.at(n, c, h, w)] - dbias - x_hat * dscale), b.beta_data, dst);
    });
    b.dscale[at] = blend(b.alpha_param, dscale, b.beta_param, b.dscale[at]);
    b.dbias[at] = blend(b.alpha_param, dbias, b.beta_param, b.dbias[at]);
  }
}

// Both of a pair of optional pointers, or neither.
bool paired(const void* a, const void* b) { return (a == nullptr) == (b == nullptr); }

}  // namespace
}  // namespace loom::sim::dnn

using namespace loom::sim::dnn;

extern "C" {

cudnnStatus_t cudnnDeriveBNTensorDescriptor(cudnnTensorDescriptor_t derived, const cudnnTensorDescriptor_t x,
                                            cudnnBatchNormMode_t mode) {
  if (!derived || !x || !x->set || !valid_mode(mode)) return CUDNN_STATUS_BAD_PARAM;
  if (x->rank != 4) return CUDNN_STATUS_NOT_SUPPORTED;
  // Half and bfloat16 data keep their statistics in float; double in double.
  const cudnnDataType_t type = x->type == CUDNN_DATA_DOUBLE ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT;
  const bool spatial = mode != CUDNN_BATCHNORM_PER_ACTIVATION;
  return cudnnSetTensor4dDescriptor(derived, CUDNN_TENSOR_NCHW, type, 1, x->dims[1], spatial ? 1 : x->dims[2],
                                    spatial ? 1 : x->dims[3]);
}

cudnnStatus_t cudnnBatchNormalizationForwardTraining(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha,
                                                     const void* beta, const cudnnTensorDescriptor_t x_desc,
                                                     const void* x, const cudnnTensorDescriptor_t y_desc, void* y,
                                                     const cudnnTensorDescriptor_t param_desc, const void* scale,
                                                     const void* bias, double factor, void* running_mean,
                                                     void* running_variance, double epsilon, void* saved_mean,
                                                     void* saved_inv_std) {
  const Call call(handle, "cudnnBatchNormalizationForwardTraining");
  Norm g;
  if (!handle || !alpha || !beta || !x || !y || !scale || !bias || !paired(running_mean, running_variance) ||
      !paired(saved_mean, saved_inv_std) || epsilon < CUDNN_BN_MIN_EPSILON)
    return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(mode, x_desc, y_desc, nullptr, param_desc, &g)) return status;
  const size_t p = g.param.bytes();
  if (!call.on_device("x", x, g.x.bytes()) || !call.on_device("y", y, g.y.bytes()) ||
      !call.on_device("bnScale", scale, p) || !call.on_device("bnBias", bias, p) ||
      (running_mean && (!call.on_device("resultRunningMean", running_mean, p) ||
                        !call.on_device("resultRunningVariance", running_variance, p))) ||
      (saved_mean && (!call.on_device("resultSaveMean", saved_mean, p) ||
                      !call.on_device("resultSaveInvVariance", saved_inv_std, p))))
    return Call::failed();
  const Training t{static_cast<const float*>(x),
                   static_cast<const float*>(scale),
                   static_cast<const float*>(bias),
                   static_cast<float*>(y),
                   static_cast<float*>(running_mean),
                   static_cast<float*>(running_variance),
                   static_cast<float*>(saved_mean),
                   static_cast<float*>(saved_inv_std),
                   scalar(alpha),
                   scalar(beta),
                   factor,
                   epsilon};
  return call.queue([g, t] { forward_training(g, t); });
}

cudnnStatus_t cudnnBatchNormalizationForwardInference(cudnnHandle_t handle, cudnnBatchNormMode_t mode,
                                                      const void* alpha, const void* beta,
                                                      const cudnnTensorDescriptor_t x_desc, const void* x,
                                                      const cudnnTensorDescriptor_t y_desc, void* y,
                                                      const cudnnTensorDescriptor_t param_desc, const void* scale,
                                                      const void* bias, const void* mean, const void* variance,
                                                      double epsilon) {
  const Call call(handle, "cudnnBatchNormalizationForwardInference");
  Norm g;
  if (!handle || !alpha || !beta || !x || !y || !scale || !bias || !mean || !variance || epsilon < CUDNN_BN_MIN_EPSILON)
    return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(mode, x_desc, y_desc, nullptr, param_desc, &g)) return status;
  const size_t p = g.param.bytes();
  if (!call.on_device("x", x, g.x.bytes()) || !call.on_device("y", y, g.y.bytes()) ||
      !call.on_device("bnScale", scale, p) || !call.on_device("bnBias", bias, p) ||
      !call.on_device("estimatedMean", mean, p) || !call.on_device("estimatedVariance", variance, p))
    return Call::failed();
  return call.queue([g, a = scalar(alpha), b = scalar(beta), epsilon, x = static_cast<const float*>(x),
                     y = static_cast<float*>(y), scale = static_cast<const float*>(scale),
                     bias = static_cast<const float*>(bias), mean = static_cast<const float*>(mean),
                     variance = static_cast<const float*>(variance)] {
#pragma omp parallel for schedule(static)
    for (int64_t f = 0; f < g.features(); ++f) {
      const int64_t at = g.param_at(f);
      normalize(g, x, y, f, mean[at], 1.0 / std::sqrt(double(variance[at]) + epsilon), scale[at], bias[at], a, b);
    }
  });
}

cudnnStatus_t cudnnBatchNormalizationBackward(cudnnHandle_t handle, cudnnBatchNormMode_t mode, const void* alpha_data,
                                              const void* beta_data, const void* alpha_param, const void* beta_param,
                                              const cudnnTensorDescriptor_t x_desc, const void* x,
                                              const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                              const cudnnTensorDescriptor_t dx_desc, void* dx,
                                              const cudnnTensorDescriptor_t param_desc, const void* scale, void* dscale,
                                              void* dbias, double epsilon, const void* saved_mean,
                                              const void* saved_inv_std) {
  const Call call(handle, "cudnnBatchNormalizationBackward");
  Norm g;
  if (!handle || !alpha_data || !beta_data || !alpha_param || !beta_param || !x || !dy || !dx || !scale || !dscale ||
      !dbias || !paired(saved_mean, saved_inv_std) || epsilon < CUDNN_BN_MIN_EPSILON)
    return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(mode, x_desc, dy_desc, dx_desc, param_desc, &g)) return status;
  const size_t p = g.param.bytes();
  if (!call.on_device("x", x, g.x.bytes()) || !call.on_device("dy", dy, g.y.bytes()) ||
      !call.on_device("dx", dx, g.dx.bytes()) || !call.on_device("bnScale", scale, p) ||
      !call.on_device("dBnScaleResult", dscale, p) || !call.on_device("dBnBiasResult", dbias, p) ||
      (saved_mean &&
       (!call.on_device("savedMean", saved_mean, p) || !call.on_device("savedInvVariance", saved_inv_std, p))))
    return Call::failed();
  const Backward b{static_cast<const float*>(x),
                   static_cast<const float*>(dy),
                   static_cast<const float*>(scale),
                   static_cast<const float*>(saved_mean),
                   static_cast<const float*>(saved_inv_std),
                   static_cast<float*>(dx),
                   static_cast<float*>(dscale),
                   static_cast<float*>(dbias),
                   scalar(alpha_data),
                   scalar(beta_data),
                   scalar(alpha_param),
                   scalar(beta_param),
                   epsilon};
  return call.queue([g, b] { backward(g, b); });
}

}  // extern "C"
