#include "engine/training/progress_bar.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace loom {

ProgressBar::ProgressBar(int64_t total_steps, std::ostream& out, bool interactive, Clock clock)
    : total_(total_steps),
      out_(out),
      interactive_(interactive),
      clock_(std::move(clock)),
      start_(clock_()),
      last_draw_(start_) {}

double ProgressBar::elapsed() const { return std::chrono::duration<double>(clock_() - start_).count(); }

std::string ProgressBar::format_step_time(double seconds_per_step) {
  char buf[32];
  if (seconds_per_step >= 1.0)
    std::snprintf(buf, sizeof buf, "%.0fs/step", seconds_per_step);
  else if (seconds_per_step >= 1e-3)
    std::snprintf(buf, sizeof buf, "%.0fms/step", seconds_per_step * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0fus/step", seconds_per_step * 1e6);
  return buf;
}

std::string ProgressBar::format(int64_t step, int64_t total, double seconds, double loss, double accuracy,
                                bool finished) {
  constexpr int kWidth = 30;
  std::string digits = std::to_string(total);
  std::string count = std::to_string(step);
  std::string line = std::string(digits.size() - std::min(digits.size(), count.size()), ' ') + count + "/" + digits;
  int filled = total > 0 ? static_cast<int>(kWidth * step / total) : kWidth;
  std::string bar;
  if (filled > 0) bar = std::string(filled - 1, '=') + (step < total ? ">" : "=");
  bar += std::string(kWidth - filled, '.');
  line += " [" + bar + "]";
  char buf[64];
  if (step < total && !finished) {
    double eta = step > 0 ? seconds / step * (total - step) : 0.0;
    std::snprintf(buf, sizeof buf, " - ETA: %.0fs", eta);
    line += buf;
  } else {
    std::snprintf(buf, sizeof buf, " - %.0fs ", seconds);
    line += buf + format_step_time(step > 0 ? seconds / static_cast<double>(step) : 0.0);
  }
  // Negative means not known yet; NaN is known, and shown.
  if (!(loss < 0)) {
    std::snprintf(buf, sizeof buf, " - loss: %.4f", std::isnan(loss) ? std::fabs(loss) : loss);  // "nan", not "-nan"
    line += buf;
  }
  if (!(accuracy < 0)) {
    std::snprintf(buf, sizeof buf, " - accuracy: %.4f", accuracy);
    line += buf;
  }
  return line;
}

void ProgressBar::update(int64_t step, double loss, double accuracy) {
  if (!interactive_) return;
  auto now = clock_();
  if (now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  std::string line = format(step, total_, elapsed(), loss, accuracy);
  size_t width = line.size();
  if (width < last_width_) line += std::string(last_width_ - width, ' ');
  last_width_ = width;
  out_ << '\r' << line << std::flush;
}

void ProgressBar::finish(double loss, double accuracy, const std::string& suffix, int64_t steps_done) {
  const int64_t steps = steps_done >= 0 ? std::min(steps_done, total_) : total_;
  std::string line = format(steps, total_, elapsed(), loss, accuracy, /*finished=*/true) + suffix;
  if (interactive_) {
    if (line.size() < last_width_) line += std::string(last_width_ - line.size(), ' ');
    out_ << '\r';
  }
  out_ << line << '\n' << std::flush;
}

}  // namespace loom
