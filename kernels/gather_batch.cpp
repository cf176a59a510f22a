#include "kernels/gather_batch.h"

#include <algorithm>
#include <string>

#include "engine/runtime/errors.h"
#include "engine/runtime/tensor.h"
#include "kernels/step_state.h"

namespace loom {

namespace {

// The checks both gathers share; returns the batch size. The CPU can afford to check what the GPU kernel takes on
// trust (the model only ever passes a permutation and a cursor inside it).
int64_t check_gather(const char* op, const Tensor& images, const Tensor& labels, const Tensor& order,
                     const Tensor& position, const Tensor& x, const Tensor& y, int32_t begin_on_cpu) {
  if (images.dtype() != DType::U8 || labels.dtype() != DType::U8 || order.dtype() != DType::I32 ||
      position.dtype() != DType::I32 || y.dtype() != DType::I32 || x.dtype() != DType::F32)
    throw Error(std::string(op) +
                ": expects uint8 images and labels, int32 order and cursor, float32 batch, int32 "
                "labels");
  if (images.rank() < 1 || labels.rank() != 1 || labels.dim(0) != images.dim(0))
    throw Error(std::string(op) + ": " + shape_str(labels.shape()) + " labels for " + shape_str(images.shape()) +
                " images");
  expect_shape(order, {images.dim(0)}, op, "order");
  int64_t n = x.rank() ? x.dim(0) : 0;
  Shape batch_shape = images.shape();
  batch_shape[0] = n;
  expect_shape(x, batch_shape, op, "batch");
  expect_shape(y, {n}, op, "batch labels");
  expect_same_device(op, {&images, &labels, &order, &position, &x, &y});
  if (images.device() == Device::CUDA) return n;
  if (begin_on_cpu < 0 || begin_on_cpu + n > images.dim(0))
    throw Error(std::string(op) + ": batch [" + std::to_string(begin_on_cpu) + ", " + std::to_string(begin_on_cpu + n) +
                ") runs outside the " + std::to_string(images.dim(0)) + " stored samples");
  for (int64_t b = 0; b < n; ++b) {
    int32_t i = order.data<int32_t>()[begin_on_cpu + b];
    if (i < 0 || i >= images.dim(0))
      throw Error(std::string(op) + ": index " + std::to_string(i) + " outside the " + std::to_string(images.dim(0)) +
                  " stored samples");
  }
  return n;
}

int32_t cpu_word(const Tensor& t, int64_t slot) { return t.device() == Device::CPU ? t.data<int32_t>()[slot] : 0; }

}  // namespace

void gather_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& cursor, Tensor& x,
                  Tensor& y) {
  expect_shape(cursor, {1}, "gather_batch", "cursor");
  const int64_t n = check_gather("gather_batch", images, labels, order, cursor, x, y, cpu_word(cursor, 0));
  int64_t sample_size = images.dim(0) ? images.numel() / images.dim(0) : 0;
  auto run = images.device() == Device::CUDA ? cuda::gather_batch : ref::gather_batch;
  run(images.data<uint8_t>(), labels.data<uint8_t>(), order.data<int32_t>(), cursor.data<int32_t>(), x.f32(),
      y.data<int32_t>(), n, sample_size);
}

void gather_augmented_batch(const Tensor& images, const Tensor& labels, const Tensor& order, const Tensor& step_state,
                            const Augmentation& augmentation, PhiloxKey key, Tensor& x, Tensor& y) {
  const char* op = "gather_augmented_batch";
  expect_shape(step_state, {kStepStateSlots}, op, "step state");
  const int64_t n = check_gather(op, images, labels, order, step_state, x, y, cpu_word(step_state, kBatchCursor));
  if (images.rank() != 3 && images.rank() != 4)
    throw Error(std::string(op) +
                ": augmentation needs images [N, height, width] or [N, height, width, channels], "
                "got " +
                shape_str(images.shape()));
  const ImageLayout image{images.dim(1), images.dim(2), images.rank() == 4 ? images.dim(3) : 1};
  if (augmentation.max_shift < 0 || augmentation.max_shift >= std::min(image.height, image.width))
    throw Error(std::string(op) + ": a shift of up to " + std::to_string(augmentation.max_shift) +
                " pixels does not fit " + std::to_string(image.height) + "x" + std::to_string(image.width) + " images");
  auto run = images.device() == Device::CUDA ? cuda::gather_augmented_batch : ref::gather_augmented_batch;
  run(images.data<uint8_t>(), labels.data<uint8_t>(), order.data<int32_t>(), step_state.data<int32_t>(), x.f32(),
      y.data<int32_t>(), n, image, augmentation, key);
}

}  // namespace loom
