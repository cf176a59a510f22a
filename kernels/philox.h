// Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011). The numbers are a pure function of a 128-bit counter and a 64-bit key, with no state carried
// from one draw to the next, so the CPU and the GPU draw the same numbers for the same element, any thread may draw
// any element's number, and a kernel keyed by the training step (read from the step state on the device) draws new
// numbers at every replay of a captured CUDA graph. Dropout masks and augmentation draw from here: the key is the
// model's seed and what draws (a layer, the augmentation), the counter the step and the element.
#pragma once

#include <cstdint>

#include "kernels/host_device.h"

namespace loom {

struct PhiloxBlock {
  uint32_t word[4];
};

LOOM_HOST_DEVICE inline PhiloxBlock philox4x32_10(PhiloxBlock counter, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kMultiplier0 = 0xD2511F53u, kMultiplier1 = 0xCD9E8D57u;
  constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;  // the key's increment per round
  for (int round = 0; round < 10; ++round) {
    const uint64_t product0 = static_cast<uint64_t>(kMultiplier0) * counter.word[0];
    const uint64_t product1 = static_cast<uint64_t>(kMultiplier1) * counter.word[2];
    const uint32_t hi0 = static_cast<uint32_t>(product0 >> 32), lo0 = static_cast<uint32_t>(product0);
    const uint32_t hi1 = static_cast<uint32_t>(product1 >> 32), lo1 = static_cast<uint32_t>(product1);
    counter = PhiloxBlock{{hi1 ^ counter.word[1] ^ key0, lo1, hi0 ^ counter.word[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return counter;
}

// A uniform float in [0, 1) from the top 24 bits of a random word: every value a multiple of 2^-24, so the CPU and
// the GPU compare it with a threshold identically.
LOOM_HOST_DEVICE inline float unit_float(uint32_t bits) { return static_cast<float>(bits >> 8) * (1.f / 16777216.f); }

// The key of a stream of random numbers: the model's seed and what draws from it (a layer's index, the
// augmentation), so that two layers of one model, or two models of different seeds, never share numbers.
struct PhiloxKey {
  uint32_t k0 = 0, k1 = 0;
};
// The streams of one model: the batch augmentation's, then one per layer (stream kFirstLayerStream + the layer's
// index).
constexpr uint32_t kAugmentationStream = 0;
constexpr uint32_t kFirstLayerStream = 1;
inline PhiloxKey philox_key(uint64_t seed, uint32_t stream) {
  return {static_cast<uint32_t>(seed) ^ (stream * 0x9E3779B9u), static_cast<uint32_t>(seed >> 32) ^ stream};
}

// Four random words for element block `block` of training step `step`.
LOOM_HOST_DEVICE inline PhiloxBlock philox_draw(PhiloxKey key, int32_t step, uint64_t block) {
  return philox4x32_10(PhiloxBlock{{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                    static_cast<uint32_t>(step), 0x6C6F6F6Du /* "loom" */}},
                       key.k0, key.k1);
}

}  // namespace loom
