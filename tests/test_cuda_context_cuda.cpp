// The CUDA context against the libraries themselves: what set_tf32 sets on the cuBLAS handle, the library workspace,
// the device's memory. Built only with the CUDA path (it calls cuBLAS directly); skips, saying why, without a GPU.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_memory.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

TEST(CudaContext, Tf32SetsTheCublasMathMode) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  CudaContext& context = CudaContext::get();
  const bool before = context.tf32();
  for (bool tf32 : {true, false}) {
    SCOPED_TRACE(tf32 ? "TF32 on" : "TF32 off");
    context.set_tf32(tf32);
    cublasMath_t mode{};
    ASSERT_EQ(cublasGetMathMode(context.cublas(), &mode), CUBLAS_STATUS_SUCCESS);
    EXPECT_EQ(mode, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) << "the handle's math mode";
    EXPECT_EQ(context.tf32(), tf32);
  }
  context.set_tf32(before);
}

// The workspace grows to the largest size asked (after the work that may use the old one), and never shrinks.
TEST(CudaContext, WorkspaceGrowsToTheLargestRequest) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  CudaContext& context = CudaContext::get();
  const size_t before = context.workspace_bytes();
  context.reserve_workspace(before + 4096);
  EXPECT_EQ(context.workspace_bytes(), before + 4096);
  EXPECT_NE(context.workspace(), nullptr);
  context.reserve_workspace(16);
  EXPECT_EQ(context.workspace_bytes(), before + 4096);
}

TEST(CudaContext, ReportsTheDevicesMemory) {
  LOOM_SKIP_IF_UNAVAILABLE(Device::CUDA);
  size_t free_bytes = 0, total_bytes = 0;
  cuda_memory::device_memory(free_bytes, total_bytes);
  EXPECT_GT(total_bytes, size_t(1) << 30);
  EXPECT_GT(free_bytes, 0u);
  EXPECT_LE(free_bytes, total_bytes);
}

}  // namespace
}  // namespace loom::test
