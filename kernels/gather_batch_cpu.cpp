#include "kernels/gather_batch.h"

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"

namespace loom {

void ref::gather_batch(const uint8_t* images, const uint8_t* labels, const int32_t* order, const int32_t* cursor,
                       float* x, int32_t* y, int64_t n, int64_t sample_size) {
  const int32_t* indices = order + *cursor;
  for (int64_t b = 0; b < n; ++b) {
    const uint8_t* src = images + static_cast<int64_t>(indices[b]) * sample_size;
    for (int64_t j = 0; j < sample_size; ++j) x[b * sample_size + j] = static_cast<float>(src[j]) * kPixelScale;
    y[b] = labels[indices[b]];
  }
}

void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& cursor, Tensor& x,
                  Tensor& y) {
  const char* op = "gather_batch";
  if (images.dtype() != DType::U8 || labels.dtype() != DType::U8 || order.dtype() != DType::I32 ||
      cursor.dtype() != DType::I32 || y.dtype() != DType::I32 || x.dtype() != DType::F32)
    throw Error("gather_batch: expects uint8 images and labels, int32 order and cursor, float32 batch, int32 labels");
  if (images.rank() < 1 || labels.rank() != 1 || labels.dim(0) != images.dim(0))
    throw Error("gather_batch: " + shape_str(labels.shape()) + " labels for " + shape_str(images.shape()) +
                " images");
  expect_shape(order, {images.dim(0)}, op, "order");
  expect_shape(cursor, {1}, op, "cursor");
  int64_t n = x.rank() ? x.dim(0) : 0;
  Shape batch_shape = images.shape();
  batch_shape[0] = n;
  expect_shape(x, batch_shape, op, "batch");
  expect_shape(y, {n}, op, "batch labels");
  expect_same_device(op, {&images, &labels, &order, &cursor, &x, &y});
  int64_t sample_size = images.dim(0) ? images.numel() / images.dim(0) : 0;
  if (images.device() == Device::CUDA) {
    cuda::gather_batch(images.data<uint8_t>(), labels.data<uint8_t>(), order.data<int32_t>(),
                       cursor.data<int32_t>(), x.f32(), y.data<int32_t>(), n, sample_size);
    return;
  }
  // The CPU can afford to check what the GPU kernel takes on trust (the model only ever passes a permutation).
  const int32_t begin = *cursor.data<int32_t>();
  if (begin < 0 || begin + n > images.dim(0))
    throw Error("gather_batch: batch [" + std::to_string(begin) + ", " + std::to_string(begin + n) +
                ") runs outside the " + std::to_string(images.dim(0)) + " stored samples");
  for (int64_t b = 0; b < n; ++b) {
    int32_t i = order.data<int32_t>()[begin + b];
    if (i < 0 || i >= images.dim(0))
      throw Error("gather_batch: index " + std::to_string(i) + " outside the " + std::to_string(images.dim(0)) +
                  " stored samples");
  }
  ref::gather_batch(images.data<uint8_t>(), labels.data<uint8_t>(), order.data<int32_t>(), cursor.data<int32_t>(),
                    x.f32(), y.data<int32_t>(), n, sample_size);
}

}  // namespace loom
