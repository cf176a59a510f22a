// Where a chart's axis puts its ticks and what it writes beside them: round values a reader would pick (multiples
// of 1, 2 or 5 times a power of ten) and labels that share their number of decimals. No drawing: the charts
// (svg_chart.h) place and draw what this computes.
#pragma once

#include <string>
#include <vector>

namespace loom::report {

// The tick values of one axis, in increasing order, and the step between neighbours.
struct AxisTicks {
  std::vector<double> values;
  double step = 0;
};

// "Nice" tick values (multiples of 1, 2 or 5 times a power of ten) covering [lo, hi] with about `count` ticks; the
// first tick is at most lo and the last at least hi. lo == hi widens the range around the value (by a tenth of it,
// or by 1 around zero); lo > hi is taken as [hi, lo]; non-finite bounds or a count outside 2..1000 are a loom::Error.
AxisTicks nice_axis_ticks(double lo, double hi, int count);
// nice_axis_ticks' values alone.
std::vector<double> nice_ticks(double lo, double hi, int count);

// nice_axis_ticks asked for `count` ticks (clamped to 2..most), or fewer, until at most `most` come back (it can
// return up to half again as many as asked); at 2 asked, whatever comes back.
AxisTicks fitted_ticks(double lo, double hi, int count, int most);

// One label per tick. Labels of one axis share their number of decimals (0.80, 0.85, 0.90), just enough to tell
// neighbours apart; magnitudes far from 1 use exponent form, so that 0.00001 reads as 1e-05.
std::vector<std::string> tick_labels(const AxisTicks& ticks);

}  // namespace loom::report
