#include "engine/data/device_dataset.h"

#include <algorithm>
#include <limits>
#include <numeric>
#include <sstream>

#include "engine/runtime/errors.h"
#include "kernels/gather_batch.h"

namespace loom {

DeviceDataset::DeviceDataset(const LabeledImages& data, const Shape& input_shape, Device device, uint64_t shuffle_seed,
                             const std::string& who)
    : rng_(shuffle_seed), size_(data.size()) {
  if (size_ == 0) throw UsageError(who + ": the data is empty");
  if (data.images.dtype() != DType::U8 || data.labels.dtype() != DType::U8)
    throw UsageError(who +
                     ": images and labels must be uint8, as loaded (the batch is scaled by 1/255 on the "
                     "device; float32 images go to predict)");
  Shape sample(data.images.shape().begin() + 1, data.images.shape().end());
  if (sample != input_shape)
    throw UsageError(who + ": images of shape " + shape_str(sample) + " do not fit the model's input " +
                     shape_str(input_shape));
  if (data.images.dim(0) != size_)
    throw UsageError(who + ": " + std::to_string(data.images.dim(0)) + " images but " + std::to_string(size_) +
                     " labels");
  if (size_ > std::numeric_limits<int32_t>::max())
    throw UsageError(who + ": " + std::to_string(size_) + " samples are more than the int32 sample order can hold");
  sample_shape_ = sample;
  images_ = device == Device::CPU ? data.images.view() : data.images.to(device);
  labels_ = device == Device::CPU ? data.labels.view() : data.labels.to(device);
  order_ = Tensor({size_}, device, DType::I32);
  host_order_.resize(static_cast<size_t>(size_));
}

void DeviceDataset::begin_epoch(bool shuffle) {
  std::iota(host_order_.begin(), host_order_.end(), 0);
  if (shuffle) std::shuffle(host_order_.begin(), host_order_.end(), rng_);
  order_.copy_from(Tensor::wrap(host_order_.data(), {size_}, Device::CPU, DType::I32));
}

std::string DeviceDataset::shuffle_state() const {
  std::ostringstream out;
  out << rng_;
  return out.str();
}

std::mt19937_64 shuffle_generator_from(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 restored;
  in >> restored;
  if (in.fail() || !(in >> std::ws).eof()) throw Error("the shuffle generator's saved state is malformed");
  return restored;
}

void DeviceDataset::set_shuffle_state(const std::string& state) { rng_ = shuffle_generator_from(state); }

void DeviceDataset::set_augmentation(const Augmentation& augmentation, PhiloxKey key, const std::string& who) {
  if (augmentation.active()) {
    const Shape& s = sample_shape_;
    const bool image = s.size() == 2 || s.size() == 3;
    if (!image)
      throw UsageError(who +
                       ": augmentation needs images (height, width) or (height, width, channels), the samples "
                       "are " +
                       shape_str(s));
    if (augmentation.max_shift < 0 || augmentation.max_shift >= std::min(s[0], s[1]))
      throw UsageError(who + ": a random shift of up to " + std::to_string(augmentation.max_shift) +
                       " pixels must be at least 0 and less than the " + std::to_string(s[0]) + "x" +
                       std::to_string(s[1]) + " images' sides");
  }
  augmentation_ = augmentation;
  augmentation_key_ = key;
}

void DeviceDataset::gather_training(const Tensor& cursor, const Tensor& step_state, Tensor& x, Tensor& y) const {
  if (augmentation_.active())
    gather_augmented_batch(images_, labels_, order_, step_state, augmentation_, augmentation_key_, x, y);
  else
    gather_batch(images_, labels_, order_, cursor, x, y);
}

void DeviceDataset::gather(const Tensor& cursor, Tensor& x, Tensor& y) const {
  gather_batch(images_, labels_, order_, cursor, x, y);
}

}  // namespace loom
