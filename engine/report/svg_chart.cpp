#include "engine/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

#include "engine/io/file_text.h"
#include "engine/report/axis_ticks.h"
#include "engine/report/html_text.h"
#include "engine/runtime/errors.h"

namespace loom::report {

namespace {

// Label widths are estimated, not measured (no font metrics without a browser): sans-serif digits and average
// letters are a little over half an em wide, so 0.58 em errs on the side of room.
constexpr double kFontSize = 11;
constexpr double kTitleFontSize = 13;
constexpr double kCharWidth = 0.58 * kFontSize;

constexpr const char* kGridColour = "#e6e6e6";
constexpr const char* kAxisColour = "#333333";
constexpr const char* kMutedTextColour = "#777777";
// matplotlib's default colour cycle, for series that name no colour.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
// plot_value_array's colours: matplotlib's default bar grey and the named colours "red" and "blue".
constexpr const char* kBarGrey = "#777777";
constexpr const char* kPredictedRed = "#ff0000";
constexpr const char* kTrueBlue = "#0000ff";

// The line chart's legend: a sample of the line beside each name, in rows inside a padded box.
constexpr double kLegendSampleWidth = 22;
constexpr double kLegendPadding = 8;
constexpr double kLegendRow = 16;

// Two decimals are far finer than a CSS pixel; trailing zeros go so that large charts stay small text.
std::string coord(double value) {
  char text[48];
  std::snprintf(text, sizeof text, "%.2f", value);
  std::string s = text;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s == "-0" ? "0" : s;
}

// Characters as a reader counts them (UTF-8 code points), for width estimates and truncation.
size_t code_points(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Measured as drawn: after one_line (which html_escape applies) has spelled out controls and stray bytes.
double text_width(const std::string& text) { return static_cast<double>(code_points(one_line(text))) * kCharWidth; }

// At most `most` code points of the text as drawn (one_line's), the last replaced by an ellipsis when some were cut;
// never splits a code point.
std::string shortened(const std::string& raw, size_t most) {
  const std::string text = one_line(raw);
  if (code_points(text) <= most) return text;
  if (most == 0) return "";
  size_t kept = 0;
  size_t end = 0;
  for (; end < text.size(); ++end) {
    if ((text[end] & 0xC0) != 0x80) {
      if (kept == most - 1) break;
      ++kept;
    }
  }
  return text.substr(0, end) + "\xE2\x80\xA6";
}

double widest(const std::vector<std::string>& labels) {
  double width = 0;
  for (const auto& label : labels) width = std::max(width, text_width(label));
  return width;
}

std::string svg_open(int width, int height, const std::string& label) {
  const std::string w = std::to_string(width), h = std::to_string(height);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " +
         h + "\" role=\"img\" aria-label=\"" + html_escape(label) + "\" font-family=\"sans-serif\" font-size=\"" +
         coord(kFontSize) + "\">\n";
}

std::string line(double x1, double y1, double x2, double y2) {
  return "<line x1=\"" + coord(x1) + "\" y1=\"" + coord(y1) + "\" x2=\"" + coord(x2) + "\" y2=\"" + coord(y2) +
         "\"/>\n";
}

// `attributes` are trusted markup written in this file; `content` is escaped.
std::string text_at(double x, double y, const std::string& attributes, const std::string& content) {
  return "<text x=\"" + coord(x) + "\" y=\"" + coord(y) + "\"" + (attributes.empty() ? "" : " " + attributes) + ">" +
         html_escape(content) + "</text>\n";
}

// A point of a series that can be drawn.
struct Point {
  double x, y;
};

// Runs of consecutive drawable points: a non-finite x or y ends a run, so the line breaks there.
std::vector<std::vector<Point>> segments_of(const ChartSeries& series) {
  std::vector<std::vector<Point>> segments;
  bool in_run = false;
  for (size_t i = 0; i < series.y.size(); ++i) {
    if (!std::isfinite(series.x[i]) || !std::isfinite(series.y[i])) {
      in_run = false;
      continue;
    }
    if (!in_run) segments.emplace_back();
    segments.back().push_back({series.x[i], series.y[i]});
    in_run = true;
  }
  return segments;
}

void check_size(const char* what, int width, int height, int min_width, int min_height) {
  if (width < min_width || height < min_height) {
    char text[160];
    std::snprintf(text, sizeof text, "%s: %d x %d pixels is too small (at least %d x %d)", what, width, height,
                  min_width, min_height);
    throw Error(text);
  }
}

// Where everything of a line chart goes, worked out before anything is drawn: the plot's box in the SVG, each axis's
// ticks and labels, the scales from data to pixels, and the legend's entries and width.
struct LineChartLayout {
  std::vector<std::vector<std::vector<Point>>> segments;  // per series, its unbroken runs
  bool has_data = false;                                  // some series has a finite point
  double tick_length = 5;
  double x0 = 0, x1 = 0, y0 = 0, y1 = 0;  // the plot's left, right, top and bottom edges
  double plot_width = 0, plot_height = 0;
  AxisTicks x_ticks, y_ticks;
  std::vector<std::string> x_labels, y_labels;
  double x_from = 0, x_to = 1, y_from = 0, y_to = 1;  // the data each axis spans, a little beyond its outer ticks
  std::vector<size_t> legend_entries;                 // the series with a name, in order
  size_t name_room = 0;                               // code points a legend name is shortened to
  double legend_width = 0;

  double px(double x) const { return x0 + (x - x_from) / (x_to - x_from) * plot_width; }
  double py(double y) const { return y1 - (y - y_from) / (y_to - y_from) * plot_height; }
};

// The x axis's ticks over the data's [lo, hi], as many as fit their labels across `plot_width`; with `integer_x`, at
// whole numbers only.
AxisTicks x_axis_ticks(double lo, double hi, bool integer_x, double plot_width) {
  if (integer_x) {
    lo = std::floor(lo);
    hi = std::ceil(hi);
    if (lo == hi) {
      lo -= 1;
      hi += 1;
    }
  }
  // Room for a label of the widest likely form, with a gap; never more than ten labels.
  char sample[48];
  std::snprintf(sample, sizeof sample, integer_x ? "%.0f" : "%.3g", std::max(std::fabs(lo), std::fabs(hi)));
  const double label_room = text_width(sample) + (integer_x ? 0 : 2 * kCharWidth) + 14;
  const int most = std::clamp(static_cast<int>(plot_width / label_room), 2, 10);
  AxisTicks ticks = fitted_ticks(lo, hi, most, most);
  if (integer_x && ticks.step < 1) {
    // Steps below 1 only come from short ranges, so every whole number fits.
    ticks.values.clear();
    for (double v = lo; v <= hi; ++v) ticks.values.push_back(v);
    ticks.step = 1;
  }
  return ticks;
}

LineChartLayout layout_line_chart(const LineChart& chart) {
  check_size("line chart", chart.width, chart.height, 160, 120);
  LineChartLayout layout;
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& series : chart.series) {
    if (series.x.size() != series.y.size()) {
      throw Error("line chart '" + one_line(chart.title, 80) + "': series '" + one_line(series.name, 80) + "' has " +
                  std::to_string(series.x.size()) + " x values but " + std::to_string(series.y.size()) + " y values");
    }
    layout.segments.push_back(segments_of(series));
    for (const auto& run : layout.segments.back()) {
      for (const Point& p : run) {
        x_lo = std::min(x_lo, p.x);
        x_hi = std::max(x_hi, p.x);
        y_lo = std::min(y_lo, p.y);
        y_hi = std::max(y_hi, p.y);
      }
    }
  }
  layout.has_data = x_lo <= x_hi;
  const double width = chart.width, height = chart.height;

  // Vertical layout first: the y ticks depend on the plot's height, the left margin on their labels.
  const double top = chart.title.empty() ? 12 : 32;
  const double bottom = layout.tick_length + 15 + (chart.x_label.empty() ? 0 : 18) + 6;
  layout.plot_height = height - top - bottom;
  if (layout.has_data) {
    layout.y_ticks =
        fitted_ticks(y_lo, y_hi, static_cast<int>(layout.plot_height / 40), static_cast<int>(layout.plot_height / 18));
    layout.y_labels = tick_labels(layout.y_ticks);
  }
  const double y_label_band = chart.y_label.empty() ? 0 : 18;
  const double left = 8 + y_label_band + widest(layout.y_labels) + layout.tick_length + 4;

  // The legend sits right of the plot, level with its top: clear of the title and of curves that end high (accuracy)
  // or low (loss). It takes at most 35% of the width; longer names are shortened, the full name kept as a tooltip.
  layout.name_room =
      static_cast<size_t>(std::max(0.0, (width * 0.35 - 2 * kLegendPadding - kLegendSampleWidth - 6) / kCharWidth));
  double legend_text_width = 0;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    if (chart.series[s].name.empty()) continue;
    layout.legend_entries.push_back(s);
    legend_text_width = std::max(legend_text_width, text_width(shortened(chart.series[s].name, layout.name_room)));
  }
  const bool legend = !layout.legend_entries.empty();
  layout.legend_width = legend ? 2 * kLegendPadding + kLegendSampleWidth + 6 + legend_text_width : 0;
  const double right = legend ? layout.legend_width + 20 : 16;
  layout.plot_width = width - left - right;
  if (layout.plot_width < 40 || layout.plot_height < 40) {
    throw Error("line chart '" + one_line(chart.title, 80) + "': " + std::to_string(chart.width) + " x " +
                std::to_string(chart.height) + " pixels leave no room for the plot beside its labels and legend");
  }
  layout.x0 = left;
  layout.x1 = left + layout.plot_width;
  layout.y0 = top;
  layout.y1 = top + layout.plot_height;

  if (layout.has_data) {
    layout.x_ticks = x_axis_ticks(x_lo, x_hi, chart.integer_x, layout.plot_width);
    layout.x_labels = tick_labels(layout.x_ticks);
    // The axes stand a little outside the outer ticks, as matplotlib's margins do, so that a first epoch or a best
    // value on an outer tick is not drawn over the axis line.
    const std::vector<double>& xs = layout.x_ticks.values;
    const std::vector<double>& ys = layout.y_ticks.values;
    const double x_pad = (xs.back() - xs.front()) * 0.03;
    const double y_pad = (ys.back() - ys.front()) * 0.03;
    layout.x_from = xs.front() - x_pad;
    layout.x_to = xs.back() + x_pad;
    layout.y_from = ys.front() - y_pad;
    layout.y_to = ys.back() + y_pad;
  }
  return layout;
}

// The series' own colour, or the palette's for its position; escaped, as it comes from the caller.
std::string colour_of(const LineChart& chart, size_t s) {
  const std::string& colour = chart.series[s].colour;
  return html_escape(colour.empty() ? series_colour(s) : colour);
}

// Grid lines, axis lines, tick marks and tick labels ("no data" in the plot when there are none), the axis titles.
std::string draw_axes(const LineChart& chart, const LineChartLayout& layout) {
  const LineChartLayout& l = layout;
  std::string svg;
  if (l.has_data) {
    svg += "<g stroke=\"" + std::string(kGridColour) + "\" stroke-width=\"1\">\n";
    for (double v : l.y_ticks.values) svg += line(l.x0, l.py(v), l.x1, l.py(v));
    for (double v : l.x_ticks.values) svg += line(l.px(v), l.y0, l.px(v), l.y1);
    svg += "</g>\n";
  }
  svg += "<g stroke=\"" + std::string(kAxisColour) + "\" stroke-width=\"1\">\n";
  svg += line(l.x0, l.y1, l.x1, l.y1);
  svg += line(l.x0, l.y0, l.x0, l.y1);
  if (l.has_data) {
    for (double v : l.y_ticks.values) svg += line(l.x0 - l.tick_length, l.py(v), l.x0, l.py(v));
    for (double v : l.x_ticks.values) svg += line(l.px(v), l.y1, l.px(v), l.y1 + l.tick_length);
  }
  svg += "</g>\n";
  if (l.has_data) {
    svg += "<g fill=\"" + std::string(kAxisColour) + "\">\n";
    for (size_t i = 0; i < l.y_labels.size(); ++i) {
      svg += text_at(l.x0 - l.tick_length - 3, l.py(l.y_ticks.values[i]), "text-anchor=\"end\" dy=\"0.32em\"",
                     l.y_labels[i]);
    }
    for (size_t i = 0; i < l.x_labels.size(); ++i) {
      svg += text_at(l.px(l.x_ticks.values[i]), l.y1 + l.tick_length + 12, "text-anchor=\"middle\"", l.x_labels[i]);
    }
    svg += "</g>\n";
  } else {
    svg += text_at(l.x0 + l.plot_width / 2, l.y0 + l.plot_height / 2,
                   "text-anchor=\"middle\" dy=\"0.32em\" fill=\"" + std::string(kMutedTextColour) + "\"", "no data");
  }
  if (!chart.x_label.empty()) {
    svg += text_at(l.x0 + l.plot_width / 2, static_cast<double>(chart.height) - 8, "text-anchor=\"middle\"",
                   chart.x_label);
  }
  if (!chart.y_label.empty()) {
    // Rotated a quarter turn anticlockwise, the glyphs grow leftwards from the baseline, which sits at the band's
    // right edge.
    const double bx = 8 + 13, by = l.y0 + l.plot_height / 2;
    svg += text_at(bx, by, "text-anchor=\"middle\" transform=\"rotate(-90 " + coord(bx) + " " + coord(by) + ")\"",
                   chart.y_label);
  }
  return svg;
}

// Each series as a polyline per unbroken run, then its markers.
std::string draw_series(const LineChart& chart, const LineChartLayout& layout) {
  std::string svg;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const std::string colour = colour_of(chart, s);
    svg += "<g fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"" +
           (chart.series[s].dashed ? " stroke-dasharray=\"6 4\"" : "") + ">\n";
    size_t points = 0;
    for (const auto& run : layout.segments[s]) {
      svg += "<polyline points=\"";
      for (size_t i = 0; i < run.size(); ++i) {
        svg += (i == 0 ? "" : " ") + coord(layout.px(run[i].x)) + "," + coord(layout.py(run[i].y));
      }
      svg += "\"/>\n";
      points += run.size();
    }
    svg += "</g>\n";
    // Markers closer than a few pixels merge into a thick smear that hides the line; then the line alone shows.
    if (static_cast<double>(points) <= layout.plot_width / 5) {
      svg += "<g fill=\"" + colour + "\">\n";
      for (const auto& run : layout.segments[s]) {
        for (const Point& p : run) {
          svg += "<circle cx=\"" + coord(layout.px(p.x)) + "\" cy=\"" + coord(layout.py(p.y)) + "\" r=\"2.5\"/>\n";
        }
      }
      svg += "</g>\n";
    }
  }
  return svg;
}

// The legend's box right of the plot: per named series a sample of its line and marker, and its name (shortened,
// in full as a tooltip).
std::string draw_legend(const LineChart& chart, const LineChartLayout& layout) {
  if (layout.legend_entries.empty()) return "";
  const double lx = layout.x1 + 12, ly = layout.y0;
  const double legend_height = kLegendRow * static_cast<double>(layout.legend_entries.size()) + kLegendPadding;
  std::string svg = "<g>\n<rect x=\"" + coord(lx) + "\" y=\"" + coord(ly) + "\" width=\"" + coord(layout.legend_width) +
                    "\" height=\"" + coord(legend_height) + "\" fill=\"#ffffff\" stroke=\"#cccccc\" rx=\"3\"/>\n";
  for (size_t e = 0; e < layout.legend_entries.size(); ++e) {
    const size_t s = layout.legend_entries[e];
    const ChartSeries& series = chart.series[s];
    const std::string colour = colour_of(chart, s);
    const double cy = ly + kLegendPadding / 2 + kLegendRow * (static_cast<double>(e) + 0.5);
    const double sx = lx + kLegendPadding;
    svg += "<g>\n<title>" + html_escape(series.name) + "</title>\n";
    svg += "<line x1=\"" + coord(sx) + "\" y1=\"" + coord(cy) + "\" x2=\"" + coord(sx + kLegendSampleWidth) +
           "\" y2=\"" + coord(cy) + "\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
           (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
    svg += "<circle cx=\"" + coord(sx + kLegendSampleWidth / 2) + "\" cy=\"" + coord(cy) + "\" r=\"2.5\" fill=\"" +
           colour + "\"/>\n";
    svg += text_at(sx + kLegendSampleWidth + 6, cy, "dy=\"0.32em\"", shortened(series.name, layout.name_room));
    svg += "</g>\n";
  }
  return svg + "</g>\n";
}

}  // namespace

std::string series_colour(size_t index) { return kPalette[index % std::size(kPalette)]; }

std::string line_chart_svg(const LineChart& chart) {
  const LineChartLayout layout = layout_line_chart(chart);
  std::string svg = svg_open(chart.width, chart.height, chart.title.empty() ? "line chart" : chart.title);
  if (!chart.title.empty()) {
    svg +=
        text_at(layout.x0 + layout.plot_width / 2, 20,
                "text-anchor=\"middle\" font-size=\"" + coord(kTitleFontSize) + "\" font-weight=\"bold\"", chart.title);
  }
  svg += draw_axes(chart, layout);
  svg += draw_series(chart, layout);
  svg += draw_legend(chart, layout);
  return svg + "</svg>\n";
}

std::string probability_bars_svg(const std::vector<float>& probabilities, int predicted, int truth,
                                 const std::vector<std::string>& class_names, int width, int height) {
  check_size("probability bars", width, height, 60, 50);
  const int classes = static_cast<int>(probabilities.size());
  if (classes == 0) throw Error("probability bars: no probabilities");
  if (!class_names.empty() && class_names.size() != probabilities.size()) {
    throw Error("probability bars: " + std::to_string(class_names.size()) + " class names for " +
                std::to_string(classes) + " probabilities");
  }
  if (predicted >= classes || truth >= classes) {
    throw Error("probability bars: class " + std::to_string(std::max(predicted, truth)) + " is out of range for " +
                std::to_string(classes) + " classes");
  }
  auto name_of = [&](int c) { return class_names.empty() ? std::to_string(c) : class_names[c]; };

  const double tick_length = 4;
  const double top = 8, bottom = tick_length + 15;
  const double plot_height = height - top - bottom;
  const AxisTicks y_ticks =
      fitted_ticks(0, 1, static_cast<int>(plot_height / 30), std::max(2, static_cast<int>(plot_height / 14)));
  const std::vector<std::string> y_labels = tick_labels(y_ticks);
  const double left = 6 + widest(y_labels) + tick_length + 3, right = 6;
  const double plot_width = width - left - right;
  if (plot_width < 20 || plot_height < 20) {
    throw Error("probability bars: " + std::to_string(width) + " x " + std::to_string(height) +
                " pixels leave no room for the bars");
  }
  const double x0 = left, y0 = top, y1 = top + plot_height;
  auto py = [&](double p) { return y1 - p * plot_height; };

  std::string label = "class probabilities";
  if (predicted >= 0) label += ", predicted " + name_of(predicted);
  if (truth >= 0) label += ", true " + name_of(truth);
  std::string svg = svg_open(width, height, label);

  const double slot = plot_width / classes;
  svg += "<g stroke=\"none\">\n";
  for (int c = 0; c < classes; ++c) {
    const float p = probabilities[c];
    // A NaN bar is drawn empty; its tooltip still says "nan".
    const double shown = std::isfinite(p) ? std::clamp(static_cast<double>(p), 0.0, 1.0) : 0.0;
    // Blue is drawn over red in the tutorial, so a right prediction shows as one blue bar.
    const char* fill = c == truth ? kTrueBlue : c == predicted ? kPredictedRed : kBarGrey;
    char tooltip[32];
    std::snprintf(tooltip, sizeof tooltip, ": %.4f", static_cast<double>(p));
    svg += "<rect x=\"" + coord(x0 + slot * (c + 0.1)) + "\" y=\"" + coord(py(shown)) + "\" width=\"" +
           coord(slot * 0.8) + "\" height=\"" + coord(shown * plot_height) + "\" fill=\"" + fill + "\"><title>" +
           html_escape(name_of(c) + tooltip) + "</title></rect>\n";
  }
  svg += "</g>\n";

  svg += "<g stroke=\"" + std::string(kAxisColour) + "\" stroke-width=\"1\">\n";
  svg += line(x0, y1, x0 + plot_width, y1);
  svg += line(x0, y0, x0, y1);
  for (double v : y_ticks.values) svg += line(x0 - tick_length, py(v), x0, py(v));
  svg += "</g>\n";
  svg += "<g fill=\"" + std::string(kAxisColour) + "\">\n";
  for (size_t i = 0; i < y_labels.size(); ++i) {
    svg += text_at(x0 - tick_length - 3, py(y_ticks.values[i]), "text-anchor=\"end\" dy=\"0.32em\"", y_labels[i]);
  }
  // With many classes, every k-th index is labelled so that the labels do not run into each other.
  const double index_width = text_width(std::to_string(classes - 1)) + 4;
  const int every = std::max(1, static_cast<int>(std::ceil(index_width / slot)));
  for (int c = 0; c < classes; c += every) {
    svg += text_at(x0 + slot * (c + 0.5), y1 + tick_length + 11, "text-anchor=\"middle\"", std::to_string(c));
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

std::string colour_bar_svg(const std::vector<std::string>& stops, int width, int height, const std::string& id) {
  check_size("colour bar", width, height, 40, 60);
  if (stops.empty()) throw Error("colour bar: no colour stops");
  if (id.empty() ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != std::string::npos)
    throw Error("colour bar: the gradient id '" + one_line(id) + "' is not letters, digits, '-' and '_'");

  const double pad = 8, tick_length = 4;
  const double bar_width = std::min(24.0, width - 34.0);
  const double bar_x = 2, bar_top = pad, bar_height = height - 2 * pad;
  std::string svg = svg_open(width, height, "colour bar for pixel values 0 to 255");
  svg += "<defs>\n<linearGradient id=\"" + id + "\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n";
  for (size_t i = 0; i < stops.size(); ++i) {
    const double offset = stops.size() == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(stops.size() - 1);
    char text[16];
    std::snprintf(text, sizeof text, "%.4f", offset);
    svg += "<stop offset=\"" + std::string(text) + "\" stop-color=\"" + html_escape(stops[i]) + "\"/>\n";
  }
  svg += "</linearGradient>\n</defs>\n";
  svg += "<rect x=\"" + coord(bar_x) + "\" y=\"" + coord(bar_top) + "\" width=\"" + coord(bar_width) + "\" height=\"" +
         coord(bar_height) + "\" fill=\"url(#" + id + ")\" stroke=\"" + kAxisColour + "\" stroke-width=\"0.8\"/>\n";
  const double tick_x = bar_x + bar_width;
  std::string ticks = "<g stroke=\"" + std::string(kAxisColour) + "\" stroke-width=\"1\">\n";
  std::string labels = "<g fill=\"" + std::string(kAxisColour) + "\">\n";
  for (int v = 0; v <= 250; v += 50) {
    const double y = bar_top + bar_height * (1 - v / 255.0);
    ticks += line(tick_x, y, tick_x + tick_length, y);
    labels += text_at(tick_x + tick_length + 3, y, "dy=\"0.32em\"", std::to_string(v));
  }
  svg += ticks + "</g>\n" + labels + "</g>\n</svg>\n";
  return svg;
}

}  // namespace loom::report
