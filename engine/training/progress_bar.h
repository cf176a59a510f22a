// Keras-style progress output:
//   1875/1875 [==============================] - 3s 1ms/step - loss: 0.4974 - accuracy: 0.8242
// On a terminal the bar redraws in place as steps complete; otherwise only the final line is printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace loom {

class ProgressBar {
 public:
  // Where the bar reads the time; tests pass a fake clock so the printed step time never depends on the machine.
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  ProgressBar(int64_t total_steps, std::ostream& out, bool interactive, Clock clock = std::chrono::steady_clock::now);

  // Redraws at most every 50 ms. loss/accuracy are running means; pass negative values when none is known yet.
  void update(int64_t step, double loss, double accuracy);
  // The epoch's final line; `suffix` follows the loss and accuracy (the validation figures). `steps_done` is less
  // than the total when training stopped within the epoch (the time per step is then over the steps done).
  void finish(double loss, double accuracy, const std::string& suffix = "", int64_t steps_done = -1);

  // The line for `step` of `total` after `seconds` (with an ETA until the last step, or until `finished`); exposed
  // for tests.
  static std::string format(int64_t step, int64_t total, double seconds, double loss, double accuracy,
                            bool finished = false);
  // Keras's per-step time: "1ms/step", "987us/step", "2s/step".
  static std::string format_step_time(double seconds_per_step);

 private:
  double elapsed() const;

  int64_t total_;
  std::ostream& out_;
  bool interactive_;
  Clock clock_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  size_t last_width_ = 0;
};

}  // namespace loom
