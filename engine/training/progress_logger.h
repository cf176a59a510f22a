// fit's progress output as a callback: "Epoch 1/10", then Keras's bar, redrawn in place with the running loss and
// accuracy on a terminal (or when asked), and each epoch's final line with the validation figures:
//   1875/1875 [==============================] - 3s 1ms/step - loss: 0.4974 - accuracy: 0.8242 - val_loss: ...
#pragma once

#include <memory>

#include "engine/training/callback.h"
#include "engine/training/progress_bar.h"

namespace loom {

class ProgressLogger : public Callback {
 public:
  // `live`: redraw during the epoch (reads the running totals) rather than print only the final line.
  explicit ProgressLogger(bool live, ProgressBar::Clock clock = std::chrono::steady_clock::now);
  bool reads_running_totals() const override { return live_; }
  void on_epoch_begin(FitContext& context, int epoch) override;
  void on_batch_end(FitContext& context, int64_t step) override;
  void on_epoch_end(FitContext& context, int epoch, EpochResult& logs) override;

 private:
  bool live_;
  ProgressBar::Clock clock_;
  std::unique_ptr<ProgressBar> bar_;
  int64_t steps_done_ = 0;  // fewer than the epoch's steps when a callback stopped training within it
};

}  // namespace loom
