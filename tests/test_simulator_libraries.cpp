// The simulator's cuBLAS and cuDNN against plain loops in double: every transpose of Sgemm, the three convolution
// passes for both layouts and modes with padding, strides and dilation, pooling with ties and NaN, batch
// normalization with its running and saved statistics, the statuses the libraries document for bad arguments, and
// the device fault an operand outside device memory causes. Operands live in cudaMalloc memory, as loom's do.
#include <cublas_v2.h>
#include <cudnn.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace loom::test {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// Floats in device memory, filled from and read back to the host.
class DeviceFloats {
 public:
  explicit DeviceFloats(const std::vector<float>& host) : size_(host.size()) {
    EXPECT_EQ(cudaMalloc(&data_, bytes()), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data_, host.data(), bytes(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  ~DeviceFloats() { cudaFree(data_); }
  DeviceFloats(const DeviceFloats&) = delete;
  DeviceFloats& operator=(const DeviceFloats&) = delete;
  float* get() const { return static_cast<float*>(data_); }
  std::vector<float> read() const {
    std::vector<float> host(size_);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(host.data(), data_, bytes(), cudaMemcpyDeviceToHost), cudaSuccess);
    return host;
  }

 private:
  size_t bytes() const { return size_ * sizeof(float); }
  void* data_ = nullptr;
  size_t size_;
};

std::vector<float> random_values(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// |got − want| ≤ atol + rtol·|want| everywhere, NaN matching NaN; the first mismatches are printed.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool ok =
        std::isnan(want[i]) ? std::isnan(got[i]) : std::abs(got[i] - want[i]) <= atol + rtol * std::abs(want[i]);
    if (!ok && reported++ < 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
}

// ---- cuBLAS ----

class SimulatedCublas : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cublasCreate(&handle_), CUBLAS_STATUS_SUCCESS); }
  void TearDown() override { cublasDestroy(handle_); }
  cublasHandle_t handle_ = nullptr;
};

TEST_F(SimulatedCublas, SgemmMatchesATripleLoopForEveryTransposeAndScaling) {
  const int m = 5, n = 7, k = 3;
  const float alpha = 1.5f;
  for (cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
    for (cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T})
      for (float beta : {0.f, -0.5f}) {
        const int a_rows = ta == CUBLAS_OP_N ? m : k, a_cols = ta == CUBLAS_OP_N ? k : m;
        const int b_rows = tb == CUBLAS_OP_N ? k : n, b_cols = tb == CUBLAS_OP_N ? n : k;
        const int lda = a_rows + 2, ldb = b_rows + 1, ldc = m + 3;
        const std::vector<float> a = random_values(size_t(lda) * a_cols, 1), b = random_values(size_t(ldb) * b_cols, 2);
        // beta = 0: C must not be read, so NaN there must not reach the result.
        std::vector<float> c = beta == 0.f ? std::vector<float>(size_t(ldc) * n, kNaN) : random_values(ldc * n, 3);
        std::vector<double> want(c.begin(), c.end());  // rows m..ldc-1 must stay as they were
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int l = 0; l < k; ++l)
              sum += double(ta == CUBLAS_OP_N ? a[i + l * lda] : a[l + i * lda]) *
                     (tb == CUBLAS_OP_N ? b[l + j * ldb] : b[j + l * ldb]);
            want[i + j * ldc] = alpha * sum + (beta == 0.f ? 0.0 : beta * c[i + j * ldc]);
          }
        DeviceFloats da(a), db(b), dc(c);
        ASSERT_EQ(cublasSgemm(handle_, ta, tb, m, n, k, &alpha, da.get(), lda, db.get(), ldb, &beta, dc.get(), ldc),
                  CUBLAS_STATUS_SUCCESS);
        expect_close(dc.read(), want, 1e-5, 1e-5,
                     "C (transa " + std::to_string(ta) + ", transb " + std::to_string(tb) + ", beta " +
                         std::to_string(beta) + ")");
      }
}

TEST_F(SimulatedCublas, SgemmRefusesWhatCublasRefuses) {
  DeviceFloats a(std::vector<float>(64, 1.f)), b(std::vector<float>(64, 1.f)), c(std::vector<float>(64, 0.f));
  const float one = 1.f, zero = 0.f;
  auto gemm = [&](cublasHandle_t h, cublasOperation_t ta, int m, int n, int k, int lda, int ldb, int ldc) {
    return cublasSgemm(h, ta, CUBLAS_OP_N, m, n, k, &one, a.get(), lda, b.get(), ldb, &zero, c.get(), ldc);
  };
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 4, 4, 4, 4, 4, 4), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(nullptr, CUBLAS_OP_N, 4, 4, 4, 4, 4, 4), CUBLAS_STATUS_NOT_INITIALIZED);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, -1, 4, 4, 4, 4, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 4, 4, -1, 4, 4, 4), CUBLAS_STATUS_INVALID_VALUE);
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 4, 4, 2, 3, 4, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_T, 2, 4, 4, 3, 4, 4), CUBLAS_STATUS_INVALID_VALUE);  // lda < k, A transposed
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 4, 4, 4, 4, 3, 4), CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 4, 4, 4, 4, 4, 3), CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  EXPECT_EQ(gemm(handle_, CUBLAS_OP_N, 0, 4, 4, 1, 4, 1), CUBLAS_STATUS_SUCCESS);        // nothing to do
  EXPECT_EQ(cublasSetMathMode(handle_, static_cast<cublasMath_t>(7)), CUBLAS_STATUS_INVALID_VALUE);
}

TEST_F(SimulatedCublas, Tf32ModeRoundsTheOperandsAndDefaultModeDoesNot) {
  const float a_value = 1.f + std::ldexp(1.f, -20), one = 1.f, zero = 0.f;
  DeviceFloats a(std::vector<float>{a_value}), b(std::vector<float>{1.f}), c(std::vector<float>{0.f});
  for (cublasMath_t mode : {CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH}) {
    ASSERT_EQ(cublasSetMathMode(handle_, mode), CUBLAS_STATUS_SUCCESS);
    ASSERT_EQ(cublasSgemm(handle_, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, a.get(), 1, b.get(), 1, &zero, c.get(), 1),
              CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(c.read()[0], mode == CUBLAS_DEFAULT_MATH ? a_value : 1.f) << "math mode " << mode;
  }
}

// ---- cuDNN: helpers ----

int index4(int a, int b, int c, int d, int B, int C, int D) { return ((a * B + b) * C + c) * D + d; }

// A tensor stored NCHW on the host, laid out in `format` on the device (and back).
std::vector<float> to_layout(const std::vector<float>& nchw, int n, int c, int h, int w, cudnnTensorFormat_t format) {
  if (format == CUDNN_TENSOR_NCHW) return nchw;
  std::vector<float> out(nchw.size());
  for (int in = 0; in < n; ++in)
    for (int ic = 0; ic < c; ++ic)
      for (int ih = 0; ih < h; ++ih)
        for (int iw = 0; iw < w; ++iw) out[index4(in, ih, iw, ic, h, w, c)] = nchw[index4(in, ic, ih, iw, c, h, w)];
  return out;
}
std::vector<float> from_layout(const std::vector<float>& v, int n, int c, int h, int w, cudnnTensorFormat_t format) {
  if (format == CUDNN_TENSOR_NCHW) return v;
  std::vector<float> out(v.size());
  for (int in = 0; in < n; ++in)
    for (int ic = 0; ic < c; ++ic)
      for (int ih = 0; ih < h; ++ih)
        for (int iw = 0; iw < w; ++iw) out[index4(in, ic, ih, iw, c, h, w)] = v[index4(in, ih, iw, ic, h, w, c)];
  return out;
}

class SimulatedCudnn : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(cudnnCreate(&handle_), CUDNN_STATUS_SUCCESS); }
  void TearDown() override {
    for (cudnnTensorDescriptor_t d : tensors_) cudnnDestroyTensorDescriptor(d);
    cudnnDestroy(handle_);
  }
  cudnnTensorDescriptor_t tensor(cudnnTensorFormat_t format, int n, int c, int h, int w) {
    cudnnTensorDescriptor_t d = nullptr;
    EXPECT_EQ(cudnnCreateTensorDescriptor(&d), CUDNN_STATUS_SUCCESS);
    tensors_.push_back(d);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(d, format, CUDNN_DATA_FLOAT, n, c, h, w), CUDNN_STATUS_SUCCESS);
    return d;
  }
  cudnnHandle_t handle_ = nullptr;
  std::vector<cudnnTensorDescriptor_t> tensors_;
};

// ---- convolution ----

struct ConvCase {
  const char* name;
  cudnnTensorFormat_t format;
  int n, c, h, w, k, r, s, pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
  cudnnConvolutionMode_t mode;
  int groups;
  int out_h() const { return 1 + (h + 2 * pad_h - ((r - 1) * dilation_h + 1)) / stride_h; }
  int out_w() const { return 1 + (w + 2 * pad_w - ((s - 1) * dilation_w + 1)) / stride_w; }
  int cg() const { return c / groups; }
};

// The three passes by their definition, in double, on NCHW arrays (the filter K × C/groups × R × S).
struct ConvReference {
  std::vector<double> y, dx, dw;
  ConvReference(const ConvCase& t, const std::vector<float>& x, const std::vector<float>& w,
                const std::vector<float>& dy)
      : y(size_t(t.n) * t.k * t.out_h() * t.out_w()), dx(x.size()), dw(w.size()) {
    const int kg = t.k / t.groups;
    for (int n = 0; n < t.n; ++n)
      for (int k = 0; k < t.k; ++k)
        for (int p = 0; p < t.out_h(); ++p)
          for (int q = 0; q < t.out_w(); ++q)
            for (int c = 0; c < t.cg(); ++c)
              for (int r = 0; r < t.r; ++r)
                for (int s = 0; s < t.s; ++s) {
                  const int ih = p * t.stride_h - t.pad_h + r * t.dilation_h;
                  const int iw = q * t.stride_w - t.pad_w + s * t.dilation_w;
                  if (ih < 0 || ih >= t.h || iw < 0 || iw >= t.w) continue;
                  const bool flip = t.mode == CUDNN_CONVOLUTION;
                  const int wi = index4(k, c, flip ? t.r - 1 - r : r, flip ? t.s - 1 - s : s, t.cg(), t.r, t.s);
                  const int xi = index4(n, k / kg * t.cg() + c, ih, iw, t.c, t.h, t.w);
                  const int yi = index4(n, k, p, q, t.k, t.out_h(), t.out_w());
                  y[yi] += double(w[wi]) * x[xi];
                  dx[xi] += double(w[wi]) * dy[yi];
                  dw[wi] += double(dy[yi]) * x[xi];
                }
  }
};

// The descriptors of one case, destroyed with it.
struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  explicit ConvDescriptors(const ConvCase& t) {
    cudnnCreateTensorDescriptor(&x), cudnnCreateTensorDescriptor(&y), cudnnCreateFilterDescriptor(&w);
    cudnnCreateConvolutionDescriptor(&conv);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(x, t.format, CUDNN_DATA_FLOAT, t.n, t.c, t.h, t.w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetTensor4dDescriptor(y, t.format, CUDNN_DATA_FLOAT, t.n, t.k, t.out_h(), t.out_w()),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, t.format, t.k, t.cg(), t.r, t.s), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv, t.pad_h, t.pad_w, t.stride_h, t.stride_w, t.dilation_h,
                                              t.dilation_w, t.mode, CUDNN_DATA_FLOAT),
              CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionGroupCount(conv, t.groups), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(cudnnSetConvolutionMathType(conv, CUDNN_FMA_MATH), CUDNN_STATUS_SUCCESS);
  }
  ~ConvDescriptors() {
    cudnnDestroyConvolutionDescriptor(conv), cudnnDestroyFilterDescriptor(w);
    cudnnDestroyTensorDescriptor(y), cudnnDestroyTensorDescriptor(x);
  }
};

const ConvCase kConvCases[] = {
    {"nchw_pad1_cross", CUDNN_TENSOR_NCHW, 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, 1},
    {"nhwc_pad1_cross", CUDNN_TENSOR_NHWC, 2, 3, 6, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, 1},
    {"nchw_stride2_convolution", CUDNN_TENSOR_NCHW, 3, 2, 9, 8, 3, 3, 2, 2, 1, 2, 2, 1, 1, CUDNN_CONVOLUTION, 1},
    {"nhwc_dilation2_convolution", CUDNN_TENSOR_NHWC, 2, 4, 9, 10, 6, 3, 3, 2, 1, 1, 2, 2, 2, CUDNN_CONVOLUTION, 2},
    {"nchw_dilation2_stride2_groups", CUDNN_TENSOR_NCHW, 17, 4, 11, 7, 4, 2, 3, 0, 2, 2, 1, 2, 2,
     CUDNN_CROSS_CORRELATION, 2},
};

TEST_F(SimulatedCudnn, ConvolutionPassesMatchTheDirectLoopsInBothLayoutsAndModes) {
  for (const ConvCase& t : kConvCases) {
    SCOPED_TRACE(t.name);
    const ConvDescriptors d(t);
    int n = 0, c = 0, h = 0, w = 0;
    ASSERT_EQ(cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(std::vector<int>({n, c, h, w}), std::vector<int>({t.n, t.k, t.out_h(), t.out_w()}));
    const std::vector<float> x = random_values(size_t(t.n) * t.c * t.h * t.w, 4);
    const std::vector<float> wt = random_values(size_t(t.k) * t.cg() * t.r * t.s, 5);
    const std::vector<float> dy = random_values(size_t(t.n) * t.k * t.out_h() * t.out_w(), 6);
    const ConvReference want(t, x, wt, dy);
    DeviceFloats dx_(to_layout(x, t.n, t.c, t.h, t.w, t.format)), dw_(to_layout(wt, t.k, t.cg(), t.r, t.s, t.format)),
        ddy(to_layout(dy, t.n, t.k, t.out_h(), t.out_w(), t.format));
    // (alpha, beta) = (1, 0) over NaN, then (0.5, 2) over earlier values: out = alpha·result + beta·out.
    for (const std::pair<float, float>& scaling : {std::pair{1.f, 0.f}, std::pair{0.5f, 2.f}}) {
      const float alpha = scaling.first, beta = scaling.second;
      const std::vector<float> y0 =
          beta == 0.f ? std::vector<float>(want.y.size(), kNaN) : random_values(want.y.size(), 7);
      const std::vector<float> gx0 = beta == 0.f ? std::vector<float>(x.size(), kNaN) : random_values(x.size(), 8);
      const std::vector<float> gw0 = beta == 0.f ? std::vector<float>(wt.size(), kNaN) : random_values(wt.size(), 9);
      DeviceFloats y(to_layout(y0, t.n, t.k, t.out_h(), t.out_w(), t.format)),
          gx(to_layout(gx0, t.n, t.c, t.h, t.w, t.format)), gw(to_layout(gw0, t.k, t.cg(), t.r, t.s, t.format));
      ASSERT_EQ(cudnnConvolutionForward(handle_, &alpha, d.x, dx_.get(), d.w, dw_.get(), d.conv,
                                        CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &beta, d.y, y.get()),
                CUDNN_STATUS_SUCCESS);
      ASSERT_EQ(cudnnConvolutionBackwardData(handle_, &alpha, d.w, dw_.get(), d.y, ddy.get(), d.conv,
                                             CUDNN_CONVOLUTION_BWD_DATA_ALGO_1, nullptr, 0, &beta, d.x, gx.get()),
                CUDNN_STATUS_SUCCESS);
      ASSERT_EQ(cudnnConvolutionBackwardFilter(handle_, &alpha, d.x, dx_.get(), d.y, ddy.get(), d.conv,
                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, nullptr, 0, &beta, d.w, gw.get()),
                CUDNN_STATUS_SUCCESS);
      auto scaled = [&](const std::vector<double>& v, const std::vector<float>& old) {
        std::vector<double> out(v.size());
        for (size_t i = 0; i < v.size(); ++i) out[i] = alpha * v[i] + (beta == 0.f ? 0.0 : beta * old[i]);
        return out;
      };
      // Float sums of at most a few hundred products of values in [-1, 1].
      expect_close(from_layout(y.read(), t.n, t.k, t.out_h(), t.out_w(), t.format), scaled(want.y, y0), 1e-5, 1e-5,
                   "y");
      expect_close(from_layout(gx.read(), t.n, t.c, t.h, t.w, t.format), scaled(want.dx, gx0), 1e-5, 1e-5, "dx");
      expect_close(from_layout(gw.read(), t.k, t.cg(), t.r, t.s, t.format), scaled(want.dw, gw0), 1e-4, 1e-5, "dw");
    }
  }
}

// What loom's parity tests rely on: a descriptor that misdescribes the data (its padding, its layout) changes the
// answer, and a descriptor set again after a call does not change the work that call queued.
TEST_F(SimulatedCudnn, ConvolutionFollowsItsDescriptorsAndCopiesThemAtTheCall) {
  // Stride 3 over 9 pixels gives 3 outputs with padding 0 or 1: the two descriptors are both valid.
  const ConvCase right{"", CUDNN_TENSOR_NHWC, 1, 2, 9, 9, 2, 3, 3, 1, 1, 3, 3, 1, 1, CUDNN_CROSS_CORRELATION, 1};
  const ConvCase wrong_pad{"", CUDNN_TENSOR_NHWC, 1, 2, 9, 9, 2, 3, 3, 0, 0, 3, 3, 1, 1, CUDNN_CROSS_CORRELATION, 1};
  ConvCase wrong_layout = right;
  wrong_layout.format = CUDNN_TENSOR_NCHW;
  const std::vector<float> x = random_values(2 * 81, 10), w = random_values(2 * 2 * 9, 11);
  const std::vector<double> want = ConvReference(right, x, w, std::vector<float>(18, 0.f)).y;
  DeviceFloats dx(to_layout(x, 1, 2, 9, 9, CUDNN_TENSOR_NHWC)), dw(to_layout(w, 2, 2, 3, 3, CUDNN_TENSOR_NHWC));
  const float one = 1.f, zero = 0.f;
  auto forward = [&](const ConvCase& t, bool reset_after) {
    const ConvDescriptors d(t);
    DeviceFloats y(std::vector<float>(18, kNaN));
    EXPECT_EQ(cudnnConvolutionForward(handle_, &one, d.x, dx.get(), d.w, dw.get(), d.conv,
                                      CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, d.y, y.get()),
              CUDNN_STATUS_SUCCESS);
    if (reset_after) {
      EXPECT_EQ(cudnnSetConvolution2dDescriptor(d.conv, 0, 0, 3, 3, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
                CUDNN_STATUS_SUCCESS);
    }
    return from_layout(y.read(), 1, 2, 3, 3, CUDNN_TENSOR_NHWC);
  };
  expect_close(forward(right, false), want, 1e-5, 1e-5, "right descriptors");
  expect_close(forward(right, true), want, 1e-5, 1e-5, "descriptor set again after the call");
  auto differs = [&](const std::vector<float>& got) {
    for (size_t i = 0; i < got.size(); ++i)
      if (std::abs(got[i] - want[i]) > 1e-3) return true;
    return false;
  };
  EXPECT_TRUE(differs(forward(wrong_pad, false))) << "padding 0 instead of 1 gave the same output";
  EXPECT_TRUE(differs(forward(wrong_layout, false))) << "NCHW descriptors over NHWC data gave the same output";
}

TEST_F(SimulatedCudnn, AlgorithmQueriesAgreeWithTheWorkspaceQueries) {
  const ConvDescriptors d(kConvCases[0]);
  cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  cudnnConvolutionBwdFilterAlgoPerf_t bwd[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
  int returned = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardAlgorithm_v7(handle_, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
                                                   &returned, fwd),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GE(returned, 2);
  EXPECT_EQ(fwd[0].status, CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(fwd[0].memory, 0u);
  EXPECT_EQ(fwd[0].determinism, CUDNN_DETERMINISTIC);
  EXPECT_EQ(fwd[0].mathType, CUDNN_FMA_MATH);
  for (int i = 0; i < returned; ++i) {
    size_t bytes = 123;
    const cudnnStatus_t status =
        cudnnGetConvolutionForwardWorkspaceSize(handle_, d.x, d.w, d.conv, d.y, fwd[i].algo, &bytes);
    EXPECT_EQ(status, fwd[i].status);
    if (status == CUDNN_STATUS_SUCCESS) {
      EXPECT_EQ(bytes, fwd[i].memory);
    }
  }
  ASSERT_EQ(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle_, d.x, d.y, d.conv, d.w,
                                                          CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned, bwd),
            CUDNN_STATUS_SUCCESS);
  bool deterministic = false, non_deterministic = false;
  for (int i = 0; i < returned; ++i)
    if (bwd[i].status == CUDNN_STATUS_SUCCESS) {
      (bwd[i].determinism == CUDNN_DETERMINISTIC ? deterministic : non_deterministic) = true;
    }
  EXPECT_TRUE(deterministic && non_deterministic);
  // An algorithm that needs a workspace refuses a smaller one.
  const float one = 1.f, zero = 0.f;
  DeviceFloats x(std::vector<float>(2 * 3 * 30, 1.f)), w(std::vector<float>(4 * 3 * 9, 1.f)),
      y(std::vector<float>(2 * 4 * 30, 0.f));
  size_t gemm_bytes = 0;
  ASSERT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, d.x, d.w, d.conv, d.y, CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                                                    &gemm_bytes),
            CUDNN_STATUS_SUCCESS);
  ASSERT_GT(gemm_bytes, 0u);
  EXPECT_EQ(cudnnConvolutionForward(handle_, &one, d.x, x.get(), d.w, w.get(), d.conv, CUDNN_CONVOLUTION_FWD_ALGO_GEMM,
                                    nullptr, gemm_bytes - 1, &zero, d.y, y.get()),
            CUDNN_STATUS_BAD_PARAM);
}

// ---- pooling ----

TEST_F(SimulatedCudnn, MaxPoolingTakesTheFirstMaximumAndPropagatesNanAsSet) {
  // One 3×4 plane, window 2×2, stride 1×2: overlapping rows, ties in the first window, a NaN in the last.
  const std::vector<float> x = {5,  5, 1, 2,     //
                                5,  0, 3, kNaN,  //
                                -1, 4, 2, 2};
  cudnnTensorDescriptor_t xd = tensor(CUDNN_TENSOR_NCHW, 1, 1, 3, 4), yd = tensor(CUDNN_TENSOR_NCHW, 1, 1, 2, 2);
  DeviceFloats dx(x), dy(std::vector<float>{1, 10, 100, 1000});
  const float one = 1.f, zero = 0.f;
  for (cudnnNanPropagation_t nan : {CUDNN_PROPAGATE_NAN, CUDNN_NOT_PROPAGATE_NAN}) {
    cudnnPoolingDescriptor_t pool = nullptr;
    ASSERT_EQ(cudnnCreatePoolingDescriptor(&pool), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX_DETERMINISTIC, nan, 2, 2, 0, 0, 1, 2),
              CUDNN_STATUS_SUCCESS);
    int n, c, h, w;
    ASSERT_EQ(cudnnGetPooling2dForwardOutputDim(pool, xd, &n, &c, &h, &w), CUDNN_STATUS_SUCCESS);
    EXPECT_EQ(std::vector<int>({n, c, h, w}), std::vector<int>({1, 1, 2, 2}));
    DeviceFloats y(std::vector<float>(4, kNaN)), gx(std::vector<float>(12, kNaN));
    ASSERT_EQ(cudnnPoolingForward(handle_, pool, &one, xd, dx.get(), &zero, yd, y.get()), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnPoolingBackward(handle_, pool, &one, yd, y.get(), yd, dy.get(), xd, dx.get(), &zero, xd, gx.get()),
              CUDNN_STATUS_SUCCESS);
    const bool propagate = nan == CUDNN_PROPAGATE_NAN;
    const double nan_or_3 = propagate ? NAN : 3.0;
    expect_close(y.read(), {5, nan_or_3, 5, nan_or_3}, 0, 0, "y");
    // Window (0,0) ties on three 5s: its gradient goes to the first. Both right-hand windows hold the NaN, which is
    // their maximum when propagated, and the 3 otherwise.
    const double at_3 = propagate ? 0 : 1010, at_nan = propagate ? 1010 : 0;
    expect_close(gx.read(), {1, 0, 0, 0, 100, 0, at_3, at_nan, 0, 0, 0, 0}, 0, 0, "dx");
    cudnnDestroyPoolingDescriptor(pool);
  }
}

TEST_F(SimulatedCudnn, AveragePoolingCountsOrSkipsThePadding) {
  // NHWC, 2 channels of 3×3, window 2×2 with padding 1 and stride 2: corner windows hold one pixel of four.
  std::vector<float> x(18);
  for (int i = 0; i < 18; ++i) x[i] = float(i);
  cudnnTensorDescriptor_t xd = tensor(CUDNN_TENSOR_NHWC, 1, 2, 3, 3), yd = tensor(CUDNN_TENSOR_NHWC, 1, 2, 2, 2);
  DeviceFloats dx(x), dy(std::vector<float>(8, 1.f));
  const float one = 1.f, zero = 0.f;
  for (cudnnPoolingMode_t mode :
       {CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING}) {
    cudnnPoolingDescriptor_t pool = nullptr;
    ASSERT_EQ(cudnnCreatePoolingDescriptor(&pool), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnSetPooling2dDescriptor(pool, mode, CUDNN_PROPAGATE_NAN, 2, 2, 1, 1, 2, 2), CUDNN_STATUS_SUCCESS);
    DeviceFloats y(std::vector<float>(8, kNaN)), gx(std::vector<float>(18, kNaN));
    ASSERT_EQ(cudnnPoolingForward(handle_, pool, &one, xd, dx.get(), &zero, yd, y.get()), CUDNN_STATUS_SUCCESS);
    ASSERT_EQ(cudnnPoolingBackward(handle_, pool, &one, yd, y.get(), yd, dy.get(), xd, dx.get(), &zero, xd, gx.get()),
              CUDNN_STATUS_SUCCESS);
    std::vector<double> want_y(8), want_dx(18, 0.0);
    for (int c = 0; c < 2; ++c)
      for (int p = 0; p < 2; ++p)
        for (int q = 0; q < 2; ++q) {
          double sum = 0;
          int count = 0;
          for (int h = 2 * p - 1; h < 2 * p + 1; ++h)
            for (int w = 2 * q - 1; w < 2 * q + 1; ++w)
              if (h >= 0 && h < 3 && w >= 0 && w < 3) sum += x[(h * 3 + w) * 2 + c], ++count;
          const int divisor = mode == CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING ? 4 : count;
          want_y[(p * 2 + q) * 2 + c] = sum / divisor;
          for (int h = 2 * p - 1; h < 2 * p + 1; ++h)
            for (int w = 2 * q - 1; w < 2 * q + 1; ++w)
              if (h >= 0 && h < 3 && w >= 0 && w < 3) want_dx[(h * 3 + w) * 2 + c] += 1.0 / divisor;
        }
    expect_close(y.read(), want_y, 1e-6, 1e-6, "y");
    expect_close(gx.read(), want_dx, 1e-6, 1e-6, "dx");
    cudnnDestroyPoolingDescriptor(pool);
  }
}

// ---- batch normalization ----

struct NormCase {
  const char* name;
  cudnnTensorFormat_t format;
  cudnnBatchNormMode_t mode;
  int n, c, h, w;
};

TEST_F(SimulatedCudnn, BatchNormalizationMatchesItsDefinition) {
  const double epsilon = 1e-3, factor = 0.25;
  for (const NormCase& t :
       {NormCase{"spatial_nhwc", CUDNN_TENSOR_NHWC, CUDNN_BATCHNORM_SPATIAL, 4, 3, 5, 2},
        NormCase{"per_activation_nchw", CUDNN_TENSOR_NCHW, CUDNN_BATCHNORM_PER_ACTIVATION, 6, 2, 3, 2}}) {
    SCOPED_TRACE(t.name);
    const bool spatial = t.mode == CUDNN_BATCHNORM_SPATIAL;
    const int features = spatial ? t.c : t.c * t.h * t.w, count = spatial ? t.n * t.h * t.w : t.n;
    cudnnTensorDescriptor_t xd = tensor(t.format, t.n, t.c, t.h, t.w), pd = tensor(CUDNN_TENSOR_NCHW, 1, 1, 1, 1);
    ASSERT_EQ(cudnnDeriveBNTensorDescriptor(pd, xd, t.mode), CUDNN_STATUS_SUCCESS);
    const std::vector<float> x = random_values(size_t(t.n) * t.c * t.h * t.w, 12), dy = random_values(x.size(), 13);
    const std::vector<float> gamma = random_values(features, 14), beta = random_values(features, 15);
    const std::vector<float> run_mean0 = random_values(features, 16);
    std::vector<float> run_var0 = random_values(features, 17);
    for (float& v : run_var0) v = std::abs(v) + 0.5f;
    // The reference, element e of feature f (NCHW order on the host).
    auto feature_of = [&](int e) { return spatial ? e / (t.h * t.w) % t.c : e % features; };
    std::vector<double> mean(features), var(features), y(x.size()), dx(x.size()), dgamma(features), dbeta(features),
        inv(features), inference(x.size());
    const std::vector<float> xh = x, dyh = dy;  // NCHW copies
    for (size_t e = 0; e < x.size(); ++e) mean[feature_of(e)] += xh[e] / count;
    for (size_t e = 0; e < x.size(); ++e) var[feature_of(e)] += std::pow(xh[e] - mean[feature_of(e)], 2) / count;
    for (int f = 0; f < features; ++f) inv[f] = 1 / std::sqrt(var[f] + epsilon);
    for (size_t e = 0; e < x.size(); ++e) {
      const int f = feature_of(e);
      const double x_hat = (xh[e] - mean[f]) * inv[f];
      y[e] = gamma[f] * x_hat + beta[f];
      dbeta[f] += dyh[e], dgamma[f] += dyh[e] * x_hat;
      inference[e] = gamma[f] * (xh[e] - run_mean0[f]) / std::sqrt(run_var0[f] + epsilon) + beta[f];
    }
    for (size_t e = 0; e < x.size(); ++e) {
      const int f = feature_of(e);
      const double x_hat = (xh[e] - mean[f]) * inv[f];
      dx[e] = gamma[f] * inv[f] / count * (count * dyh[e] - dbeta[f] - x_hat * dgamma[f]);
    }
    std::vector<double> want_run_mean(features), want_run_var(features);
    for (int f = 0; f < features; ++f) {
      want_run_mean[f] = factor * mean[f] + (1 - factor) * run_mean0[f];
      want_run_var[f] = factor * var[f] * count / (count - 1) + (1 - factor) * run_var0[f];  // unbiased
    }
    auto layout = [&](const std::vector<float>& v) { return to_layout(v, t.n, t.c, t.h, t.w, t.format); };
    auto back = [&](const std::vector<float>& v) { return from_layout(v, t.n, t.c, t.h, t.w, t.format); };
    DeviceFloats dxin(layout(x)), ddy(layout(dy)), dgam(gamma), dbet(beta), run_mean(run_mean0), run_var(run_var0),
        saved_mean(std::vector<float>(features, kNaN)), saved_inv(std::vector<float>(features, kNaN)),
        out(std::vector<float>(x.size(), kNaN)), inf_out(std::vector<float>(x.size(), kNaN));
    const float one = 1.f, zero = 0.f;
    ASSERT_EQ(
        cudnnBatchNormalizationForwardInference(handle_, t.mode, &one, &zero, xd, dxin.get(), xd, inf_out.get(), pd,
                                                dgam.get(), dbet.get(), run_mean.get(), run_var.get(), epsilon),
        CUDNN_STATUS_SUCCESS);
    expect_close(back(inf_out.read()), inference, 1e-5, 1e-5, "inference y");
    ASSERT_EQ(cudnnBatchNormalizationForwardTraining(handle_, t.mode, &one, &zero, xd, dxin.get(), xd, out.get(), pd,
                                                     dgam.get(), dbet.get(), factor, run_mean.get(), run_var.get(),
                                                     epsilon, saved_mean.get(), saved_inv.get()),
              CUDNN_STATUS_SUCCESS);
    expect_close(back(out.read()), y, 1e-5, 1e-5, "training y");
    expect_close(saved_mean.read(), mean, 1e-6, 1e-6, "saved mean");
    expect_close(saved_inv.read(), inv, 1e-6, 1e-5, "saved inverse deviation");
    expect_close(run_mean.read(), want_run_mean, 1e-6, 1e-6, "running mean");
    expect_close(run_var.read(), want_run_var, 1e-6, 1e-6, "running variance");
    // Backward with the saved statistics and without them (recomputed from x), and with alpha/beta on both outputs.
    const float half = 0.5f, two = 2.f;
    for (bool saved : {true, false}) {
      DeviceFloats gx(layout(std::vector<float>(x.size(), 1.f))), gg(std::vector<float>(features, 1.f)),
          gb(std::vector<float>(features, 1.f));
      ASSERT_EQ(cudnnBatchNormalizationBackward(handle_, t.mode, &half, &two, &two, &half, xd, dxin.get(), xd,
                                                ddy.get(), xd, gx.get(), pd, dgam.get(), gg.get(), gb.get(), epsilon,
                                                saved ? saved_mean.get() : nullptr, saved ? saved_inv.get() : nullptr),
                CUDNN_STATUS_SUCCESS);
      std::vector<double> want_gx(dx), want_gg(dgamma), want_gb(dbeta);
      for (double& v : want_gx) v = 0.5 * v + 2;
      for (double& v : want_gg) v = 2 * v + 0.5;
      for (double& v : want_gb) v = 2 * v + 0.5;
      expect_close(back(gx.read()), want_gx, 1e-5, 1e-4, saved ? "dx (saved)" : "dx (recomputed)");
      expect_close(gg.read(), want_gg, 1e-5, 1e-5, "dgamma");
      expect_close(gb.read(), want_gb, 1e-5, 1e-5, "dbeta");
    }
  }
}

// ---- statuses ----

TEST_F(SimulatedCudnn, BadArgumentsGetTheDocumentedStatus) {
  cudnnTensorDescriptor_t d = tensor(CUDNN_TENSOR_NCHW, 1, 1, 1, 1);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 0, 1, 1, 1), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW_VECT_C, CUDNN_DATA_FLOAT, 1, 4, 1, 1),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 65536, 65536, 1, 1),
            CUDNN_STATUS_NOT_SUPPORTED);
  // A filter whose channels are not the input's, an output of the wrong size, double data.
  ConvCase t = kConvCases[0];
  ConvDescriptors conv(t);
  int n, c, h, w;
  ASSERT_EQ(cudnnSetFilter4dDescriptor(conv.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, t.k, t.c + 1, t.r, t.s),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(conv.conv, conv.x, conv.w, &n, &c, &h, &w), CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetFilter4dDescriptor(conv.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, t.k, t.c, t.r, t.s),
            CUDNN_STATUS_SUCCESS);
  size_t bytes;
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, t.n, t.k, t.out_h() + 1, t.out_w()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, conv.x, conv.w, conv.conv, conv.y,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, &bytes),
            CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, t.n, t.k, t.out_h(), t.out_w()),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, conv.x, conv.w, conv.conv, conv.y,
                                                    CUDNN_CONVOLUTION_FWD_ALGO_FFT, &bytes),
            CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cudnnGetConvolutionForwardWorkspaceSize(handle_, conv.x, conv.w, conv.conv, conv.y,
                                                    static_cast<cudnnConvolutionFwdAlgo_t>(99), &bytes),
            CUDNN_STATUS_BAD_PARAM);
  ASSERT_EQ(cudnnSetTensor4dDescriptor(conv.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, t.n, t.c, t.h, t.w),
            CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnGetConvolution2dForwardOutputDim(conv.conv, conv.x, conv.w, &n, &c, &h, &w),
            CUDNN_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv.conv, -1, 0, 1, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(cudnnSetConvolution2dDescriptor(conv.conv, 0, 0, 0, 1, 1, 1, CUDNN_CONVOLUTION, CUDNN_DATA_FLOAT),
            CUDNN_STATUS_BAD_PARAM);
  cudnnPoolingDescriptor_t pool;
  ASSERT_EQ(cudnnCreatePoolingDescriptor(&pool), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX, CUDNN_PROPAGATE_NAN, 0, 2, 0, 0, 1, 1),
            CUDNN_STATUS_BAD_PARAM);
  cudnnDestroyPoolingDescriptor(pool);
  // Batch normalization: a negative epsilon, a running mean without its variance, statistics of the wrong shape.
  cudnnTensorDescriptor_t xd = tensor(CUDNN_TENSOR_NHWC, 2, 3, 2, 2), pd = tensor(CUDNN_TENSOR_NCHW, 1, 3, 1, 1);
  cudnnTensorDescriptor_t wrong = tensor(CUDNN_TENSOR_NCHW, 1, 4, 1, 1);
  DeviceFloats x(std::vector<float>(24, 1.f)), p(std::vector<float>(4, 1.f));
  const float one = 1.f, zero = 0.f;
  auto train = [&](cudnnTensorDescriptor_t param, double eps, float* run_var) {
    return cudnnBatchNormalizationForwardTraining(handle_, CUDNN_BATCHNORM_SPATIAL, &one, &zero, xd, x.get(), xd,
                                                  x.get(), param, p.get(), p.get(), 0.1, p.get(), run_var, eps, nullptr,
                                                  nullptr);
  };
  EXPECT_EQ(train(pd, 1e-5, p.get()), CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(train(pd, -1e-5, p.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(train(pd, 1e-5, nullptr), CUDNN_STATUS_BAD_PARAM);
  EXPECT_EQ(train(wrong, 1e-5, p.get()), CUDNN_STATUS_BAD_PARAM);
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM), "CUDNN_STATUS_BAD_PARAM");
  EXPECT_STREQ(cudnnGetErrorString(CUDNN_STATUS_NOT_SUPPORTED), "CUDNN_STATUS_NOT_SUPPORTED");
  EXPECT_EQ(cudnnGetVersion(), size_t(CUDNN_VERSION));
  EXPECT_EQ(cudnnGetCudartVersion(), size_t(CUDART_VERSION));
}

// ---- faults ----

// An operand outside device memory is a fault of the device, which stays for the rest of the process: each case
// runs in a child process of its own.
class SimulatedLibrariesDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Exits 0 when the call reported the failed launch and the device the illegal address.
[[noreturn]] void sgemm_with_a_on_the_host() {
  cublasHandle_t handle;
  cublasCreate(&handle);
  std::vector<float> host(4, 1.f);
  DeviceFloats b(host), c(host);
  const float one = 1.f, zero = 0.f;
  const cublasStatus_t status =
      cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, host.data(), 2, b.get(), 2, &zero, c.get(), 2);
  std::exit(status == CUBLAS_STATUS_EXECUTION_FAILED && cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 1);
}

[[noreturn]] void convolution_with_a_short_filter() {
  cudnnHandle_t handle;
  cudnnCreate(&handle);
  const ConvDescriptors d(kConvCases[0]);
  DeviceFloats x(std::vector<float>(2 * 3 * 30, 1.f)), w(std::vector<float>(4 * 3 * 9 - 1, 1.f)),
      y(std::vector<float>(2 * 4 * 30, 0.f));
  const float one = 1.f, zero = 0.f;
  const cudnnStatus_t status =
      cudnnConvolutionForward(handle, &one, d.x, x.get(), d.w, w.get(), d.conv,
                              CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, nullptr, 0, &zero, d.y, y.get());
  std::exit(status == CUDNN_STATUS_EXECUTION_FAILED && cudaDeviceSynchronize() == cudaErrorIllegalAddress ? 0 : 1);
}

// Max pooling's backward pass given a y that is not the forward pass's output of this x: cuDNN finds where the
// maximum was by comparing x with y, so a GPU would give a wrong gradient; the simulator stops.
[[noreturn]] void pooling_backward_with_a_stale_y() {
  cudnnHandle_t handle;
  cudnnCreate(&handle);
  cudnnTensorDescriptor_t xd, yd;
  cudnnCreateTensorDescriptor(&xd);
  cudnnCreateTensorDescriptor(&yd);
  cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 2, 2);
  cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1, 1, 1, 1);
  cudnnPoolingDescriptor_t pool;
  cudnnCreatePoolingDescriptor(&pool);
  cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN, 2, 2, 0, 0, 2, 2);
  DeviceFloats x(std::vector<float>{1.f, 4.f, 2.f, 3.f}), stale_y(std::vector<float>{5.f}), dy(std::vector<float>{1.f}),
      dx(std::vector<float>(4, 0.f));
  const float one = 1.f, zero = 0.f;
  cudnnPoolingBackward(handle, pool, &one, yd, stale_y.get(), yd, dy.get(), xd, x.get(), &zero, xd, dx.get());
  cudaDeviceSynchronize();
  std::exit(1);  // not reached: the run stops
}

TEST_F(SimulatedLibrariesDeathTest, MaxPoolingBackwardRefusesAYThatXDoesNotHold) {
  EXPECT_DEATH(pooling_backward_with_a_stale_y(),
               "cudnnPoolingBackward: y at \\(n 0, c 0, h 0, w 0\\) is 5.0+, which no element of its window of x "
               "holds");
}

TEST_F(SimulatedLibrariesDeathTest, SgemmOnHostMemoryFaults) {
  EXPECT_EXIT(sgemm_with_a_on_the_host(), ::testing::ExitedWithCode(0), "cublasSgemm: operand A");
}

TEST_F(SimulatedLibrariesDeathTest, ConvolutionOnATooShortBufferFaults) {
  EXPECT_EXIT(convolution_with_a_short_filter(), ::testing::ExitedWithCode(0), "cudnnConvolutionForward: operand w");
}

}  // namespace
}  // namespace loom::test
