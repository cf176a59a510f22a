// The CPU path's convolution: the reference's decomposition (kernels/im2col.h), one chunk of the batch's images at a
// time, each chunk's im2col matrix built by the thread that multiplies it, in a buffer of that thread's own small
// enough to stay in its core's cache, and its product through OpenBLAS on that thread (kernels/dense_cpu.cpp). The
// chunks depend on the geometry alone, and the weight gradient adds the chunks' parts in a fixed order, so a
// convolution gives the same bits on any thread count. The buffers live in the shared host scratch, which the layer
// reserved when it was prepared, so a training step allocates nothing.
#include <algorithm>

#include "engine/runtime/cpu_threads.h"
#include "engine/runtime/host_scratch.h"
#include "kernels/conv2d.h"
#include "kernels/cpu_parallel.h"
#include "kernels/dense.h"
#include "kernels/im2col.h"

namespace loom {

namespace {

// A chunk's im2col matrix is kept to about this many floats (256 KB): with the chunk's output and the kernel it fits
// a core's L2 cache, so the product reads what the im2col pass has just written from there.
constexpr int64_t kChunkColumnsFloats = 64 * 1024;
// The weight gradient sums the batch in at most this many parts, one a chunk, added up at the end in order.
constexpr int64_t kMaxGradientParts = 8;

struct ConvSizes {
  int64_t image;   // floats of one input image, h·w·in
  int64_t pixels;  // output pixels of one image, oh·ow
  int64_t k;       // one im2col row, kh·kw·in
};

ConvSizes sizes_of(const Conv2dGeometry& g) {
  return {g.height * g.width * g.in_channels, g.out_height() * g.out_width(), g.kernel_h * g.kernel_w * g.in_channels};
}

// [0, items) cut into `count` near-equal contiguous parts; part i is [first(i), first(i + 1)).
struct Parts {
  int64_t items, count;
  int64_t first(int64_t part) const { return items * part / count; }
  int64_t most() const { return (items + count - 1) / count; }
};

// The batch's images in chunks of about kChunkColumnsFloats of im2col matrix each (at least one image).
Parts image_chunks(const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  const int64_t per_chunk = std::max<int64_t>(1, kChunkColumnsFloats / std::max<int64_t>(1, s.pixels * s.k));
  return {g.batch, std::max<int64_t>(1, std::min((g.batch + per_chunk - 1) / per_chunk, cpu::kMaxChunks))};
}

// The batch in parts for the weight gradient, each made of whole image chunks, so that no chunk needs more room.
Parts gradient_parts(const Conv2dGeometry& g) {
  const int64_t chunks = image_chunks(g).count;
  return {chunks, std::min(chunks, kMaxGradientParts)};
}

// The geometry of images [begin, end) of the batch.
Conv2dGeometry images(Conv2dGeometry g, int64_t begin, int64_t end) {
  g.batch = end - begin;
  return g;
}

int64_t columns_per_slot(const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  return image_chunks(g).most() * s.pixels * s.k;
}

int64_t scratch_floats(const Conv2dGeometry& g, int slots) {
  const int64_t parts = gradient_parts(g).count;
  return slots * columns_per_slot(g) + (parts > 1 ? parts * g.out_channels * sizes_of(g).k : 0);
}

// The scratch for `slots` threads (the count read once per op, and the job's limit): one im2col buffer a thread,
// then the weight gradient's parts.
struct Scratch {
  Scratch(const Conv2dGeometry& g, int slots)
      : slots(slots), base(host_scratch(scratch_floats(g, slots))), columns_per_slot(loom::columns_per_slot(g)) {}
  float* columns(int slot) const { return base + slot * columns_per_slot; }
  float* gradient_part(int64_t part, const Conv2dGeometry& g) const {
    return base + slots * columns_per_slot + part * g.out_channels * sizes_of(g).k;
  }
  const int slots;
  float* const base;
  const int64_t columns_per_slot;
};

// Runs body(begin, end, buffer) for each chunk of images [begin, end) of the batch on the pool, `buffer` the im2col
// buffer of the thread that runs it.
template <class Body>
void for_each_image_chunk(const Conv2dGeometry& g, Body body) {
  const Parts chunks = image_chunks(g);
  const Scratch scratch(g, cpu_threads());
  cpu::parallel_chunks(
      chunks.count,
      [&](int64_t chunk, int slot) { body(chunks.first(chunk), chunks.first(chunk + 1), scratch.columns(slot)); },
      scratch.slots);
}

}  // namespace

int64_t cpu::conv2d_scratch_floats(const Conv2dGeometry& g) { return scratch_floats(g, cpu_threads()); }

// For each chunk: y[R, out] = cols[R, K] · W[out, K]ᵀ, the kernel as stored being already the transposed right
// operand. (The bias and activation pass stays apart, over the whole output on every thread: applied to each chunk
// as it was made, the CNN's step was no faster, 8.8–10.7 ms against 8.8–9.4.)
void cpu::conv2d_forward(const float* x, const float* w, float* y, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  for_each_image_chunk(g, [&](int64_t begin, int64_t end, float* cols) {
    ref::im2col(x + begin * s.image, cols, images(g, begin, end));
    cpu::product_on_this_thread(false, true, (end - begin) * s.pixels, g.out_channels, s.k, cols, s.k, w, s.k,
                                y + begin * s.pixels * g.out_channels, g.out_channels, false, "conv2d_forward");
  });
}

// For each chunk: dcols[R, K] = dy[R, out] · W[out, K], then its images' columns go back to their pixels (col2im
// adds, so the chunk's images are zeroed first).
void cpu::conv2d_backward_data(const float* dy, const float* w, float* dx, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  for_each_image_chunk(g, [&](int64_t begin, int64_t end, float* dcols) {
    cpu::product_on_this_thread(false, false, (end - begin) * s.pixels, s.k, g.out_channels,
                                dy + begin * s.pixels * g.out_channels, g.out_channels, w, s.k, dcols, s.k, false,
                                "conv2d_backward_data");
    float* first = dx + begin * s.image;
    std::fill(first, dx + end * s.image, 0.0f);
    ref::col2im_add(dcols, first, images(g, begin, end));
  });
}

// dW[out, K] = Σ over the batch of dyᵀ[out, R] · cols[R, K]: each part sums its chunks in order, into dW itself when
// there is one part, else into a buffer of its own; the parts are then added in order.
void cpu::conv2d_backward_filter(const float* x, const float* dy, float* dw, const Conv2dGeometry& g) {
  const ConvSizes s = sizes_of(g);
  const Parts chunks = image_chunks(g), parts = gradient_parts(g);
  const Scratch scratch(g, cpu_threads());
  const int64_t weights = g.out_channels * s.k;
  cpu::parallel_chunks(
      parts.count,
      [&](int64_t part, int slot) {
        float* sum = parts.count > 1 ? scratch.gradient_part(part, g) : dw;
        float* cols = scratch.columns(slot);
        for (int64_t chunk = parts.first(part); chunk < parts.first(part + 1); ++chunk) {
          const int64_t begin = chunks.first(chunk), end = chunks.first(chunk + 1), rows = (end - begin) * s.pixels;
          ref::im2col(x + begin * s.image, cols, images(g, begin, end));
          cpu::product_on_this_thread(true, false, g.out_channels, s.k, rows, dy + begin * s.pixels * g.out_channels,
                                      g.out_channels, cols, s.k, sum, s.k, chunk != parts.first(part),
                                      "conv2d_backward_filter");
        }
      },
      scratch.slots);
  if (parts.count == 1) return;
  cpu::parallel_ranges(weights, parts.count, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float total = scratch.gradient_part(0, g)[i];
      for (int64_t part = 1; part < parts.count; ++part) total += scratch.gradient_part(part, g)[i];
      dw[i] = total;
    }
  });
}

}  // namespace loom
