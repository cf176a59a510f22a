#include <algorithm>

#include "engine/runtime/tensor.h"
#include "kernels/fill.h"

namespace loom {

void ref::fill(float* x, int64_t n, float value) { std::fill(x, x + n, value); }

void fill_tensor(Tensor& t, float value) {
  if (t.device() == Device::CUDA)
    cuda::fill(t.f32(), t.numel(), value);
  else
    ref::fill(t.f32(), t.numel(), value);
}

}  // namespace loom
