#include "engine/report/axis_ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/runtime/errors.h"

namespace loom::report {

namespace {

// Far beyond anything a chart can show; the bound keeps a mistaken count from allocating without limit.
constexpr int kMostTicksAsked = 1000;

// k steps of multiple·10^exponent, formed so that 3 × 0.1 is the double nearest 0.3 (what a reader and the labels
// expect) rather than 0.30000000000000004: the integer product is exact and only the scaling rounds, once.
double tick_value(long long k, int multiple, int exponent) {
  const double units = static_cast<double>(k) * multiple;
  return exponent >= 0 ? units * std::pow(10.0, exponent) : units / std::pow(10.0, -exponent);
}

}  // namespace

AxisTicks nice_axis_ticks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    char text[96];
    std::snprintf(text, sizeof text, "nice_ticks: bounds must be finite, got [%g, %g]", lo, hi);
    throw Error(text);
  }
  if (count < 2 || count > kMostTicksAsked) {
    throw Error("nice_ticks: count must be from 2 to " + std::to_string(kMostTicksAsked) + ", got " +
                std::to_string(count));
  }
  if (lo > hi) std::swap(lo, hi);
  // A range within rounding noise of its magnitude would need steps finer than a double resolves there; it is
  // treated as one value, widened by a tenth of it on each side (or by 1 around zero).
  const double magnitude = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo <= magnitude * 1e-12) {
    const double middle = lo / 2 + hi / 2;
    double half = std::fabs(middle) * 0.1;
    if (!(half > 1e-300)) half = 1;
    lo = middle - half;
    hi = middle + half;
  }
  const double span = hi - lo;
  if (!std::isfinite(span)) throw Error("nice_ticks: range too wide for a double");

  // Heckbert's nice numbers: round the raw step to 1, 2 or 5 times a power of ten, to the nearest rather than up,
  // so that the step stays within 2/3 and 5/3 of the exact one and the count close to the one asked for.
  const double raw = span / (count - 1);
  int exponent = static_cast<int>(std::floor(std::log10(raw)));
  const double normalised = raw / std::pow(10.0, exponent);
  int multiple = normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10;
  if (multiple == 10) {
    multiple = 1;
    ++exponent;
  }
  AxisTicks ticks;
  ticks.step = tick_value(1, multiple, exponent);
  // The floor and ceil of a rounded quotient can be one off; the loops settle them against the actual tick values.
  auto first = static_cast<long long>(std::floor(lo / ticks.step));
  while (tick_value(first, multiple, exponent) > lo) --first;
  while (tick_value(first + 1, multiple, exponent) <= lo) ++first;
  auto last = static_cast<long long>(std::ceil(hi / ticks.step));
  while (tick_value(last, multiple, exponent) < hi) ++last;
  while (tick_value(last - 1, multiple, exponent) >= hi) --last;
  for (long long k = first; k <= last; ++k) ticks.values.push_back(tick_value(k, multiple, exponent));
  return ticks;
}

std::vector<double> nice_ticks(double lo, double hi, int count) { return nice_axis_ticks(lo, hi, count).values; }

AxisTicks fitted_ticks(double lo, double hi, int count, int most) {
  count = std::clamp(count, 2, std::max(2, most));
  for (;; --count) {
    AxisTicks ticks = nice_axis_ticks(lo, hi, count);
    if (count == 2 || static_cast<int>(ticks.values.size()) <= most) return ticks;
  }
}

std::vector<std::string> tick_labels(const AxisTicks& ticks) {
  double largest = 0;
  for (double v : ticks.values) largest = std::max(largest, std::fabs(v));
  const int step_exponent = static_cast<int>(std::floor(std::log10(ticks.step) + 1e-9));
  const bool exponent_form = largest < 1e-3 || largest >= 1e7;
  std::vector<std::string> labels;
  for (double v : ticks.values) {
    char text[48];
    // Zero may arrive as a rounding residue (5.55e-17) or as -0; either would print oddly.
    if (std::fabs(v) < ticks.step * 1e-6) v = 0;
    if (v == 0 && exponent_form) {
      std::snprintf(text, sizeof text, "0");
    } else if (exponent_form) {
      const int digits = static_cast<int>(std::floor(std::log10(largest) + 1e-9)) - step_exponent + 1;
      std::snprintf(text, sizeof text, "%.*g", std::clamp(digits, 1, 17), v);
    } else {
      std::snprintf(text, sizeof text, "%.*f", std::max(0, -step_exponent), v);
    }
    labels.emplace_back(text);
  }
  return labels;
}

}  // namespace loom::report
