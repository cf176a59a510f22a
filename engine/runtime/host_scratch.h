// Scratch memory for the CPU path's ops (a convolution's im2col buffers): one buffer that every layer shares, as
// cuDNN's workspace is shared on the GPU, since ops run one after another. Layers reserve what they need when they are
// prepared for a batch size (Layer::prepare), so a training step never allocates; an op called on its own, outside a
// model, grows it on first use. One buffer per host thread.
#pragma once

#include <cstdint>

namespace loom {

// Grows the buffer to at least `floats` (never shrinks it).
void reserve_host_scratch(int64_t floats);

// The buffer, grown to at least `floats` first if it is smaller. Valid until the next call that grows it.
float* host_scratch(int64_t floats);

// Its size now, in floats.
int64_t host_scratch_floats();

}  // namespace loom
