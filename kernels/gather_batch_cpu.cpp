#include "kernels/gather_batch.h"

#include "engine/errors.h"
#include "engine/tensor.h"

namespace loom {

void ref::gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* indices, float* x, int32_t* y,
                       int64_t n, int64_t sample_size) {
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* src = images + static_cast<int64_t>(indices[b]) * sample_size;
    for (int64_t j = 0; j < sample_size; ++j) x[b * sample_size + j] = static_cast<float>(src[j]) * kPixelScale;
    y[b] = labels[indices[b]];
  }
}

void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& indices, Tensor& x, Tensor& y) {
  const char* op = "gather_batch";
  if (images.dtype() != DType::U8 || labels.dtype() != DType::U8 || indices.dtype() != DType::I32 ||
      y.dtype() != DType::I32 || x.dtype() != DType::F32)
    throw Error("gather_batch: expects uint8 images and labels, int32 indices and labels out, float32 batch");
  if (images.rank() < 1 || labels.rank() != 1 || labels.dim(0) != images.dim(0))
    throw Error("gather_batch: " + shape_str(labels.shape()) + " labels for " + shape_str(images.shape()) +
                " images");
  int64_t n = indices.numel();
  Shape batch_shape = images.shape();
  batch_shape[0] = n;
  expect_shape(x, batch_shape, op, "batch");
  expect_shape(y, {n}, op, "batch labels");
  expect_same_device(op, {&images, &labels, &indices, &x, &y});
  int64_t sample_size = images.dim(0) ? images.numel() / images.dim(0) : 0;
  if (images.device() == Device::CUDA) {
    cuda::gather_batch(images.data<uint8_t>(), labels.data<uint8_t>(), indices.data<int32_t>(), x.f32(),
                       y.data<int32_t>(), n, sample_size);
  } else {
    for (int64_t b = 0; b < n; ++b) {
      int32_t i = indices.data<int32_t>()[b];
      if (i < 0 || i >= images.dim(0))
        throw Error("gather_batch: index " + std::to_string(i) + " outside the " + std::to_string(images.dim(0)) +
                    " stored samples");
    }
    ref::gather_batch(images.data<uint8_t>(), labels.data<uint8_t>(), indices.data<int32_t>(), x.f32(),
                      y.data<int32_t>(), n, sample_size);
  }
}

}  // namespace loom
