#include "engine/runtime/host_scratch.h"

#include <memory>

#include "engine/runtime/errors.h"

namespace loom {

namespace {

struct Scratch {
  std::unique_ptr<float[]> data;  // uninitialised: every op writes its scratch before reading it
  int64_t floats = 0;
};

thread_local Scratch scratch;

}  // namespace

void reserve_host_scratch(int64_t floats) {
  if (floats < 0) throw Error("reserve_host_scratch: negative size " + std::to_string(floats));
  if (floats <= scratch.floats) return;
  scratch.data.reset();  // the old buffer goes first, so growing never needs both at once
  scratch.floats = 0;
  scratch.data.reset(new float[static_cast<size_t>(floats)]);
  scratch.floats = floats;
}

float* host_scratch(int64_t floats) {
  reserve_host_scratch(floats);
  return scratch.data.get();
}

int64_t host_scratch_floats() { return scratch.floats; }

}  // namespace loom
