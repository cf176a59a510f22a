// TF32 as the simulated Hopper device's tensor cores take FP32 operands: the 23-bit mantissa rounded to 10 bits, to
// nearest with ties away from zero (PTX's cvt.rna.tf32.f32), the exponent kept. cuBLAS's and cuDNN's stand-ins round
// the operands of a product with it wherever the math mode lets the library use TF32, so a test whose tolerance only
// holds for FP32 fails on the simulator as it would on the GPU.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace loom::sim {

inline float round_to_tf32(float value) {
  if (!std::isfinite(value)) return value;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  bits = (bits + (1u << 12)) & ~((1u << 13) - 1);  // a carry into the exponent rounds up to the next binade
  std::memcpy(&value, &bits, sizeof bits);
  return value;
}

}  // namespace loom::sim
