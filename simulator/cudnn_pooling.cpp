// The simulated cuDNN's 2-d pooling: the output shape, forward and backward, for the max modes (with NaN propagation
// as set) and the two average modes.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "simulator/cudnn_descriptors.h"
#include "simulator/device.h"

namespace loom::sim::dnn {
namespace {

// Everything a queued pass needs, copied at the call.
struct Pooling {
  View4 x, y;
  cudnnPoolingStruct p;
};

cudnnStatus_t describe_input(const cudnnPoolingStruct* pool, const cudnnTensorStruct* x, Pooling* g) {
  if (!pool || !pool->set) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = view_of(x, &g->x)) return status;
  g->p = *pool;
  const int h = 1 + (g->x.h + 2 * pool->pad_h - pool->window_h) / pool->stride_h;
  const int w = 1 + (g->x.w + 2 * pool->pad_w - pool->window_w) / pool->stride_w;
  if (pool->window_h > g->x.h + 2 * pool->pad_h || pool->window_w > g->x.w + 2 * pool->pad_w || h <= 0 || w <= 0)
    return CUDNN_STATUS_BAD_PARAM;
  g->y = packed(CUDNN_TENSOR_NCHW, g->x.n, g->x.c, h, w);
  return CUDNN_STATUS_SUCCESS;
}

// describe_input, then an output descriptor that must have the pooled shape.
cudnnStatus_t describe(const cudnnPoolingStruct* pool, const cudnnTensorStruct* x, const cudnnTensorStruct* y,
                       Pooling* g) {
  if (cudnnStatus_t status = describe_input(pool, x, g)) return status;
  View4 out;
  if (cudnnStatus_t status = view_of(y, &out)) return status;
  if (!out.same_dims(g->y)) return CUDNN_STATUS_BAD_PARAM;
  g->y = out;
  return CUDNN_STATUS_SUCCESS;
}

bool is_max(const cudnnPoolingStruct& p) {
  return p.mode == CUDNN_POOLING_MAX || p.mode == CUDNN_POOLING_MAX_DETERMINISTIC;
}

// One output position's window, clipped to the input (padding is never read).
struct Window {
  int h0, h1, w0, w1;  // [h0, h1) × [w0, w1)
  int count() const { return (h1 - h0) * (w1 - w0); }
};

Window window(const Pooling& g, int p, int q) {
  const int h = p * g.p.stride_h - g.p.pad_h, w = q * g.p.stride_w - g.p.pad_w;
  return {std::max(h, 0), std::min(h + g.p.window_h, g.x.h), std::max(w, 0), std::min(w + g.p.window_w, g.x.w)};
}

// The divisor of an average: the whole window, or only its part inside the input.
int divisor(const Pooling& g, const Window& win) {
  return g.p.mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? g.p.window_h * g.p.window_w : win.count();
}

// Where the window's maximum is: the first one in row-major order when several are equal (so the gradient goes to
// one element, as MAX_DETERMINISTIC promises), the first NaN when NaNs propagate; h = -1 for a window with no value
// to take (all NaN, not propagated).
struct Position {
  int h = -1, w = -1;
};

Position argmax(const View4& xv, const float* x, const cudnnPoolingStruct& p, int n, int c, const Window& win) {
  Position best;
  float best_value = 0.f;
  for (int h = win.h0; h < win.h1; ++h)
    for (int w = win.w0; w < win.w1; ++w) {
      const float v = x[xv.at(n, c, h, w)];
      if (std::isnan(v)) {
        if (p.nan == CUDNN_PROPAGATE_NAN) return {h, w};
      } else if (best.h < 0 || v > best_value) {
        best = {h, w}, best_value = v;
      }
    }
  return best;
}

void forward(const Pooling& g, const float* x, float* y, float alpha, float beta) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < g.x.n; ++n)
    for (int c = 0; c < g.x.c; ++c)
      for (int p = 0; p < g.y.h; ++p)
        for (int q = 0; q < g.y.w; ++q) {
          const Window win = window(g, p, q);
          double value = 0;
          if (is_max(g.p)) {
            const Position at = argmax(g.x, x, g.p, n, c, win);
            value = at.h < 0 ? -std::numeric_limits<double>::infinity() : x[g.x.at(n, c, at.h, at.w)];
          } else {
            for (int h = win.h0; h < win.h1; ++h)
              for (int w = win.w0; w < win.w1; ++w) value += x[g.x.at(n, c, h, w)];
            value /= divisor(g, win);
          }
          float& dst = y[g.y.at(n, c, p, q)];
          dst = blend(alpha, value, beta, dst);
        }
}

// Where in its window of x the maximum pooling took, as cuDNN finds it: the first element (in row-major order) equal
// to the window's y, NaN matching NaN. A y that is no element of its window is no output of the forward pass on this
// x (a stale or wrong buffer, or a forward pass scaled by alpha ≠ 1), which a GPU would silently turn into a wrong
// gradient: the run stops.
Position taken(const Pooling& g, const float* x, float y, int n, int c, int p, int q, const Window& win) {
  for (int h = win.h0; h < win.h1; ++h)
    for (int w = win.w0; w < win.w1; ++w) {
      const float v = x[g.x.at(n, c, h, w)];
      if (v == y || (std::isnan(v) && std::isnan(y))) return {h, w};
    }
  // An empty window, or one of NaNs alone that the forward pass did not propagate (it wrote -inf), took nothing.
  if (win.count() == 0 || y == -std::numeric_limits<float>::infinity()) return {};
  stop("cudnnPoolingBackward: y at (n " + std::to_string(n) + ", c " + std::to_string(c) + ", h " + std::to_string(p) +
       ", w " + std::to_string(q) + ") is " + std::to_string(y) + ", which no element of its window of x holds: y is " +
       "not what cudnnPoolingForward made of this x");
}

// g describes x and y; dy and dx have the same shapes and strides of their own.
void backward(const Pooling& g, const View4& dyv, const View4& dxv, const float* dy, const float* x, const float* y,
              float* dx, float alpha, float beta) {
  const int64_t plane = int64_t(g.x.h) * g.x.w;
#pragma omp parallel
  {
    std::vector<double> sum(size_t(g.x.c) * plane);
#pragma omp for schedule(static)
    for (int n = 0; n < g.x.n; ++n) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int c = 0; c < g.x.c; ++c)
        for (int p = 0; p < g.y.h; ++p)
          for (int q = 0; q < g.y.w; ++q) {
            const Window win = window(g, p, q);
            const double grad = dy[dyv.at(n, c, p, q)];
            if (is_max(g.p)) {
              const Position at = taken(g, x, y[g.y.at(n, c, p, q)], n, c, p, q, win);
              if (at.h >= 0) sum[c * plane + at.h * g.x.w + at.w] += grad;
            } else {
              const double share = grad / divisor(g, win);
              for (int h = win.h0; h < win.h1; ++h)
                for (int w = win.w0; w < win.w1; ++w) sum[c * plane + h * g.x.w + w] += share;
            }
          }
      for (int c = 0; c < g.x.c; ++c)
        for (int h = 0; h < g.x.h; ++h)
          for (int w = 0; w < g.x.w; ++w) {
            float& dst = dx[dxv.at(n, c, h, w)];
            dst = blend(alpha, sum[c * plane + h * g.x.w + w], beta, dst);
          }
    }
  }
}

}  // namespace
}  // namespace loom::sim::dnn

using namespace loom::sim::dnn;

extern "C" {

cudnnStatus_t cudnnGetPooling2dForwardOutputDim(const cudnnPoolingDescriptor_t pool, const cudnnTensorDescriptor_t x,
                                                int* n, int* c, int* h, int* w) {
  Pooling g;
  if (!n || !c || !h || !w) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe_input(pool, x, &g)) return status;
  *n = g.y.n, *c = g.y.c, *h = g.y.h, *w = g.y.w;
  return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnPoolingForward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t pool, const void* alpha,
                                  const cudnnTensorDescriptor_t x_desc, const void* x, const void* beta,
                                  const cudnnTensorDescriptor_t y_desc, void* y) {
  const Call call(handle, "cudnnPoolingForward");
  Pooling g;
  if (!handle || !alpha || !beta || !x || !y) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(pool, x_desc, y_desc, &g)) return status;
  if (!call.on_device("x", x, g.x.bytes()) || !call.on_device("y", y, g.y.bytes())) return Call::failed();
  return call.queue([g, a = scalar(alpha), b = scalar(beta), x = static_cast<const float*>(x),
                     y = static_cast<float*>(y)] { forward(g, x, y, a, b); });
}

cudnnStatus_t cudnnPoolingBackward(cudnnHandle_t handle, const cudnnPoolingDescriptor_t pool, const void* alpha,
                                   const cudnnTensorDescriptor_t y_desc, const void* y,
                                   const cudnnTensorDescriptor_t dy_desc, const void* dy,
                                   const cudnnTensorDescriptor_t x_desc, const void* x, const void* beta,
                                   const cudnnTensorDescriptor_t dx_desc, void* dx) {
  const Call call(handle, "cudnnPoolingBackward");
  Pooling g, dg;
  if (!handle || !alpha || !beta || !y || !dy || !x || !dx) return CUDNN_STATUS_BAD_PARAM;
  if (cudnnStatus_t status = describe(pool, x_desc, y_desc, &g)) return status;
  // dy and dx are described apart from y and x: same shapes, their own strides.
  if (cudnnStatus_t status = describe(pool, dx_desc, dy_desc, &dg)) return status;
  if (!g.x.same_dims(dg.x)) return CUDNN_STATUS_BAD_PARAM;
  if (!call.on_device("y", y, g.y.bytes()) || !call.on_device("dy", dy, dg.y.bytes()) ||
      !call.on_device("x", x, g.x.bytes()) || !call.on_device("dx", dx, dg.x.bytes()))
    return Call::failed();
  return call.queue([g, dyv = dg.y, dxv = dg.x, a = scalar(alpha), b = scalar(beta), dy = static_cast<const float*>(dy),
                     x = static_cast<const float*>(x), y = static_cast<const float*>(y),
                     dx = static_cast<float*>(dx)] { backward(g, dyv, dxv, dy, x, y, dx, a, b); });
}

}  // extern "C"
