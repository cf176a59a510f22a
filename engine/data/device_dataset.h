// A labelled data set as training reads it: uploaded to the model's device once (as uint8), with the sample order
// of the current epoch beside it and the shuffle's random generator, so an epoch moves only its order and a later
// run can save and restore where the shuffle stands. Batches are gathered, scaled by 1/255 and widened on the
// device from the position a cursor names (the training step state's, or an evaluation's own), so the same
// enqueued step serves every batch. The gather is also where training batches are augmented, and the order where a
// rank's shard of each epoch will be chosen.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/data/labeled_images.h"
#include "engine/runtime/tensor.h"
#include "kernels/gather_batch.h"

namespace loom {

// A shuffle generator in the state DeviceDataset::shuffle_state wrote; a loom::Error when the text is malformed.
std::mt19937_64 shuffle_generator_from(const std::string& state);

class DeviceDataset {
 public:
  // Checks the data against the model's per-sample input shape (UsageError starting with `who`, e.g. "fit") and
  // uploads it. On the CPU the host tensors are used in place: `data` must then outlive this object.
  DeviceDataset(const LabeledImages& data, const Shape& input_shape, Device device, uint64_t shuffle_seed,
                const std::string& who = "data set");

  int64_t size() const { return size_; }
  const Shape& sample_shape() const { return sample_shape_; }
  Device device() const { return order_.device(); }

  // The order of the next epoch: the identity, or a fresh permutation from the shuffle generator.
  void begin_epoch(bool shuffle);
  // Enqueues the batch at `cursor` (int32 [1]): x float [rows, ...input], y int32 [rows].
  void gather(const Tensor& cursor, Tensor& x, Tensor& y) const;

  // Training batches are augmented (kernels/gather_batch.h) with draws from `key`; inactive by default. Fit sets it
  // from its options; UsageError (starting with `who`) when the samples are not images the shifts fit in.
  void set_augmentation(const Augmentation& augmentation, PhiloxKey key, const std::string& who);
  const Augmentation& augmentation() const { return augmentation_; }
  // Enqueues the training step's batch: the one at `cursor` (the step state's slot), augmented when set, keyed by
  // the step count in `step_state` (int32 [kStepStateSlots], of which `cursor` is the first word).
  void gather_training(const Tensor& cursor, const Tensor& step_state, Tensor& x, Tensor& y) const;

  std::mt19937_64& shuffle_generator() { return rng_; }
  // The generator's state as text (the standard library's own notation), for checkpoints, and back: a malformed
  // state is a loom::Error.
  std::string shuffle_state() const;
  void set_shuffle_state(const std::string& state);

 private:
  Tensor images_, labels_, order_;
  std::vector<int32_t> host_order_;
  std::mt19937_64 rng_;
  int64_t size_ = 0;
  Shape sample_shape_;
  Augmentation augmentation_;
  PhiloxKey augmentation_key_;
};

}  // namespace loom
