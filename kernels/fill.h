// Fill: every element of a float tensor set to one value (used to initialise, and by tests to poison outputs).
#pragma once

#include <cstdint>

namespace loom {

class Tensor;

void fill_tensor(Tensor& t, float value);

namespace ref {
void fill(float* x, int64_t n, float value);
}
namespace cuda {
void fill(float* x, int64_t n, float value);
}

}  // namespace loom
