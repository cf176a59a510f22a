// The CUDA context against the libraries themselves: what set_tf32 sets on the cuBLAS handle. Built only with the
// CUDA path (it calls cuBLAS directly); skips, saying why, without a GPU.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_context.h"
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

}  // namespace
}  // namespace loom::test
