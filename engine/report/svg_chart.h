// Charts drawn as inline SVG text for the HTML report: line charts (learning curves) with axes, ticks, labels and a
// legend; the tutorial's bar chart of one image's ten probabilities; a colour bar. No scripts, no external fonts or
// files: what a browser draws from the text alone. Every string that reaches the SVG (titles, labels, series names)
// is escaped, so a run named "<b>" shows as typed.
#pragma once

#include <string>
#include <vector>

namespace loom::report {

// matplotlib's default colour cycle (tab10), which the tutorials' plots draw in: the colour of the index-th series.
std::string series_colour(size_t index);

struct ChartSeries {
  std::string name;       // shown in the legend
  std::string colour;     // CSS colour, e.g. "#1f77b4"; empty: series_colour of the series' position
  bool dashed = false;    // validation curves are dashed, training curves solid
  std::vector<double> x;  // same length as y
  std::vector<double> y;  // non-finite values (in x or y) are gaps: the line breaks and no point is drawn
};

struct LineChart {
  std::string title;    // above the plot; empty: none
  std::string x_label;  // under the x axis, e.g. "epoch"
  std::string y_label;  // beside the y axis, rotated
  int width = 520;      // of the whole SVG, in CSS pixels
  int height = 320;
  bool integer_x = true;  // x ticks only at whole numbers (epochs)
  std::vector<ChartSeries> series;
};

// The chart as one <svg> element: axes with tick marks and tick labels (axis_ticks.h) over the finite data
// (x and y), grid lines, each series as a polyline per unbroken run with a marker per point (left out when the
// points are too dense to tell apart), the legend in a box right of the plot (so it covers neither the title nor a
// curve; long names shortened, in full as a tooltip), and `aria-label` set to the title. A chart with no finite point
// says "no data" in its plot area. x and y of different lengths, or a size that leaves no room for the plot, are a
// loom::Error.
std::string line_chart_svg(const LineChart& chart);

// The tutorial's plot_value_array: one bar per class (height = probability, y from 0 to 1), grey, the predicted
// class's bar red and the true class's blue (so a right prediction is one blue bar); class indices under the bars
// and each bar's class name and probability as its <title> tooltip. `truth` < 0: unknown (no blue bar);
// `predicted` < 0: none (no red bar). Empty `class_names`: the indices name the classes. No probabilities, a class
// out of range or a name count that differs from the probabilities' are a loom::Error.
std::string probability_bars_svg(const std::vector<float>& probabilities, int predicted, int truth,
                                 const std::vector<std::string>& class_names, int width, int height);

// A vertical colour bar for pixel values 0..255 drawn with `stops` (CSS colours evenly spaced from value 0 at the
// bottom to 255 at the top, as a linear gradient), with ticks and labels at 0, 50, ..., 250, as matplotlib's
// colorbar beside the tutorial's first image. Inline SVGs share the HTML document's id space and url(#id) finds the
// first element with the id, so the caller gives each bar of a document its own gradient `id` (letters, digits, '-'
// and '_'); a fixed id keeps the report the same from run to run. No stops, a bad id, or a size too small for bar and
// labels is a loom::Error.
std::string colour_bar_svg(const std::vector<std::string>& stops, int width, int height, const std::string& id);

}  // namespace loom::report
