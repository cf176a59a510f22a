// What a failed CUDA runtime or cuBLAS call looks like to a user: one message in words, naming the call and
// where it was made, with what to do where there is something; and a failure that is caught leaves nothing behind
// for the next launch check (cudaGetLastError) to take for a failed kernel. Built only with the CUDA path (it calls
// the runtime directly); runs on a GPU and on the CUDA simulator, skips without either.
#include <functional>
#include <string>
#include <utility>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "engine/runtime/buffer.h"
#include "engine/runtime/cuda_check.h"
#include "engine/runtime/cuda_graph.h"
#include "engine/runtime/cuda_memory.h"
#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/batch_norm.h"
#include "kernels/conv2d.h"
#include "kernels/dense.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

// The launch check after a caught failure: a kernel launched and its result read back.
void expect_the_next_launch_works() {
  EXPECT_EQ(cudaPeekAtLastError(), cudaSuccess) << "the failure was left in the runtime's last-error slot";
  Tensor t = Tensor::zeros({16}, Device::CUDA);
  EXPECT_NO_THROW(t.fill(2.f));
  EXPECT_EQ(t.to_vector()[15], 2.f);
}

std::string error_text(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CudaErrors, OutOfMemoryIsNamedWithWhatToDo) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  const std::string text = error_text([] { Buffer too_large(Memory::Device, size_t(1) << 50); });  // a pebibyte
  EXPECT_NE(text.find("CUDA error: out of memory (out of GPU memory: lower --batch-size or free the GPU) in "
                      "cudaMalloc("),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cuda_memory.cu:"), std::string::npos) << text;
  expect_the_next_launch_works();
}

TEST(CudaErrors, CublasRefusalIsNamed) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  Tensor x = Tensor::zeros({4}, Device::CUDA), w = Tensor::zeros({4}, Device::CUDA),
         y = Tensor::zeros({4}, Device::CUDA);
  // A negative size: cuBLAS refuses it before touching memory.
  const std::string text = error_text([&] { cuda::matmul(x.f32(), w.f32(), y.f32(), 1, 4, -1); });
  EXPECT_NE(text.find("cuBLAS error: cuBLAS was given an invalid value (a size or leading dimension) in cublasSgemm("),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("dense_cublas.cpp:"), std::string::npos) << text;
  expect_the_next_launch_works();
}

TEST(CudaErrors, AFailedReleaseWarnsAndLeavesNothingBehind) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  int on_the_host = 0;
  ::testing::internal::CaptureStderr();
  cuda_memory::free_device(&on_the_host);  // never allocated by cudaMalloc
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(warning.find("loom: warning: CUDA error: invalid argument in cudaFree(data) at "), std::string::npos)
      << warning;
  expect_the_next_launch_works();
}

// A capture that an unsafe call invalidated without throwing (an allocation, as a library might make one): the end of
// the capture fails, the graph is not kept, and the stream works on.
TEST(CudaErrors, CaptureInvalidatedByAnAllocationIsReported) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  CudaGraph graph;
  const std::string text = error_text([&] {
    graph.capture([] {
      void* scratch = nullptr;
      if (cudaMalloc(&scratch, 256) == cudaSuccess) cudaFree(scratch);
    });
  });
  EXPECT_EQ(text.rfind("CUDA error: ", 0), 0u) << text;
  EXPECT_NE(text.find("cuda_graph.cpp:"), std::string::npos) << text;
  EXPECT_FALSE(graph.ready());
  expect_the_next_launch_works();
}

// cuDNN plans refuse in words what they cannot run, before any work is queued.
TEST(CudaErrors, PlansRefuseWhatTheyCannotRun) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  EXPECT_NE(error_text([] {
              cuda::BatchNormPlan({0, 1, 4}, "bn");
            }).find("needs a non-empty batch, got batch 0"),
            std::string::npos);
  EXPECT_NE(error_text([] {
              cuda::BatchNormPlan({int64_t(1) << 32, 1, 4}, "bn");
            }).find("is more than cuDNN's int sizes hold"),
            std::string::npos);
  const cuda::Conv2dPlan first_layer({2, 6, 6, 1, 3, 3, 3, 0, 0}, "conv", /*backward_data=*/false);
  EXPECT_NE(error_text([&] {
              first_layer.backward_data(nullptr, nullptr, nullptr);
            }).find("an input gradient was asked of a Conv2dPlan made without a backward-data algorithm"),
            std::string::npos);
  expect_the_next_launch_works();
}

// The words every status gets, without a device: what a user reads when cuBLAS, cuDNN or CUDA fail.
TEST(CudaErrorTexts, EveryCublasStatusIsSaidInWords) {
  for (cublasStatus_t status :
       {CUBLAS_STATUS_SUCCESS, CUBLAS_STATUS_NOT_INITIALIZED, CUBLAS_STATUS_ALLOC_FAILED, CUBLAS_STATUS_INVALID_VALUE,
        CUBLAS_STATUS_ARCH_MISMATCH, CUBLAS_STATUS_MAPPING_ERROR, CUBLAS_STATUS_EXECUTION_FAILED,
        CUBLAS_STATUS_INTERNAL_ERROR, CUBLAS_STATUS_NOT_SUPPORTED, CUBLAS_STATUS_LICENSE_ERROR})
    EXPECT_STRNE(detail::cublas_status_text(status), "unknown cuBLAS status") << status;
  EXPECT_STREQ(detail::cublas_status_text(static_cast<cublasStatus_t>(-7)), "unknown cuBLAS status");
}

TEST(CudaErrorTexts, FixableFailuresSayWhatToDo) {
  const std::pair<cudaError_t, const char*> hints[] = {
      {cudaErrorNoDevice, "(no CUDA device found: run with --device cpu or check the driver)"},
      {cudaErrorInsufficientDriver, "(the NVIDIA driver is older than this CUDA runtime: update the driver"},
      {cudaErrorNoKernelImageForDevice, "rebuild with -DCMAKE_CUDA_ARCHITECTURES=<your GPU's>)"},
      {cudaErrorMemoryAllocation, "(out of GPU memory: lower --batch-size or free the GPU)"}};
  for (const auto& [status, hint] : hints) {
    const std::string text = error_text([status = status] { detail::throw_cuda_error(status, "call()", "x.cpp", 7); });
    EXPECT_EQ(text.rfind(std::string("CUDA error: ") + cudaGetErrorString(status), 0), 0u) << text;
    EXPECT_NE(text.find(hint), std::string::npos) << text;
    EXPECT_NE(text.find(" in call() at x.cpp:7"), std::string::npos) << text;
  }
  const std::string cudnn = error_text([] { detail::throw_cudnn_error(CUDNN_STATUS_BAD_PARAM, "c()", "y.cpp", 3); });
  EXPECT_EQ(cudnn, std::string("cuDNN error: ") + cudnnGetErrorString(CUDNN_STATUS_BAD_PARAM) + " in c() at y.cpp:3");
}

}  // namespace
}  // namespace loom::test
