#include "engine/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "engine/io/file_text.h"
#include "engine/report/html_text.h"
#include "engine/runtime/errors.h"

namespace loom::report {

namespace {

// Far beyond anything a chart can show; the bound keeps a mistaken count from allocating without limit.
constexpr int kMostTicksAsked = 1000;

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
double text_width(const std::string& text) {
  return static_cast<double>(code_points(one_line(text))) * kCharWidth;
}

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

struct Ticks {
  std::vector<double> values;
  double step = 0;
};

// k steps of multiple·10^exponent, formed so that 3 × 0.1 is the double nearest 0.3 (what a reader and the labels
// expect) rather than 0.30000000000000004: the integer product is exact and only the scaling rounds, once.
double tick_value(long long k, int multiple, int exponent) {
  const double units = static_cast<double>(k) * multiple;
  return exponent >= 0 ? units * std::pow(10.0, exponent) : units / std::pow(10.0, -exponent);
}

Ticks make_ticks(double lo, double hi, int count) {
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
  Ticks ticks;
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

// nice_ticks can return up to half again as many ticks as asked; ask for fewer until the labels fit in `most`.
Ticks fitted_ticks(double lo, double hi, int count, int most) {
  count = std::clamp(count, 2, std::max(2, most));
  for (;; --count) {
    Ticks ticks = make_ticks(lo, hi, count);
    if (count == 2 || static_cast<int>(ticks.values.size()) <= most) return ticks;
  }
}

// Labels of one axis share their number of decimals (0.80, 0.85, 0.90), just enough to tell neighbours apart;
// magnitudes far from 1 use exponent form so that 0.00001 reads as 1e-05.
std::vector<std::string> tick_labels(const Ticks& ticks) {
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

}  // namespace

std::string series_colour(size_t index) { return kPalette[index % std::size(kPalette)]; }

std::vector<double> nice_ticks(double lo, double hi, int count) { return make_ticks(lo, hi, count).values; }

std::string line_chart_svg(const LineChart& chart) {
  check_size("line chart", chart.width, chart.height, 160, 120);
  std::vector<std::vector<std::vector<Point>>> segments;  // per series
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& series : chart.series) {
    if (series.x.size() != series.y.size()) {
      throw Error("line chart '" + one_line(chart.title, 80) + "': series '" + one_line(series.name, 80) + "' has " +
                  std::to_string(series.x.size()) + " x values but " + std::to_string(series.y.size()) + " y values");
    }
    segments.push_back(segments_of(series));
    for (const auto& run : segments.back()) {
      for (const Point& p : run) {
        x_lo = std::min(x_lo, p.x);
        x_hi = std::max(x_hi, p.x);
        y_lo = std::min(y_lo, p.y);
        y_hi = std::max(y_hi, p.y);
      }
    }
  }
  const bool has_data = x_lo <= x_hi;
  const double width = chart.width, height = chart.height;

  // Vertical layout first: the y ticks depend on the plot's height, the left margin on their labels.
  const double top = chart.title.empty() ? 12 : 32;
  const double tick_length = 5;
  const double bottom = tick_length + 15 + (chart.x_label.empty() ? 0 : 18) + 6;
  const double plot_height = height - top - bottom;
  Ticks y_ticks;
  std::vector<std::string> y_labels;
  if (has_data) {
    y_ticks = fitted_ticks(y_lo, y_hi, static_cast<int>(plot_height / 40), static_cast<int>(plot_height / 18));
    y_labels = tick_labels(y_ticks);
  }
  const double y_label_band = chart.y_label.empty() ? 0 : 18;
  const double left = 8 + y_label_band + widest(y_labels) + tick_length + 4;

  // The legend sits right of the plot, level with its top: clear of the title and of curves that end high (accuracy)
  // or low (loss). It takes at most 35% of the width; longer names are shortened, the full name kept as a tooltip.
  const double sample_width = 22;
  const double legend_padding = 8;
  const auto name_room =
      static_cast<size_t>(std::max(0.0, (width * 0.35 - 2 * legend_padding - sample_width - 6) / kCharWidth));
  std::vector<size_t> legend_entries;
  double legend_text_width = 0;
  for (size_t s = 0; s < chart.series.size(); ++s) {
    if (chart.series[s].name.empty()) continue;
    legend_entries.push_back(s);
    legend_text_width = std::max(legend_text_width, text_width(shortened(chart.series[s].name, name_room)));
  }
  const double legend_width = legend_entries.empty() ? 0 : 2 * legend_padding + sample_width + 6 + legend_text_width;
  const double right = legend_entries.empty() ? 16 : legend_width + 20;
  const double plot_width = width - left - right;
  if (plot_width < 40 || plot_height < 40) {
    throw Error("line chart '" + one_line(chart.title, 80) + "': " + std::to_string(chart.width) + " x " +
                std::to_string(chart.height) + " pixels leave no room for the plot beside its labels and legend");
  }
  const double x0 = left, x1 = left + plot_width, y0 = top, y1 = top + plot_height;

  Ticks x_ticks;
  std::vector<std::string> x_labels;
  if (has_data) {
    double lo = x_lo, hi = x_hi;
    if (chart.integer_x) {
      lo = std::floor(lo);
      hi = std::ceil(hi);
      if (lo == hi) {
        lo -= 1;
        hi += 1;
      }
    }
    // Room for a label of the widest likely form, with a gap; never more than ten labels.
    char sample[48];
    std::snprintf(sample, sizeof sample, chart.integer_x ? "%.0f" : "%.3g", std::max(std::fabs(lo), std::fabs(hi)));
    const double label_room = text_width(sample) + (chart.integer_x ? 0 : 2 * kCharWidth) + 14;
    const int most = std::clamp(static_cast<int>(plot_width / label_room), 2, 10);
    x_ticks = fitted_ticks(lo, hi, most, most);
    if (chart.integer_x && x_ticks.step < 1) {
      // Steps below 1 only come from short ranges, so every whole number fits.
      x_ticks.values.clear();
      for (double v = lo; v <= hi; ++v) x_ticks.values.push_back(v);
      x_ticks.step = 1;
    }
    x_labels = tick_labels(x_ticks);
  }
  // The axes stand a little outside the outer ticks, as matplotlib's margins do, so that a first epoch or a best
  // value on an outer tick is not drawn over the axis line.
  double x_from = 0, x_to = 1, y_from = 0, y_to = 1;
  if (has_data) {
    const double x_pad = (x_ticks.values.back() - x_ticks.values.front()) * 0.03;
    const double y_pad = (y_ticks.values.back() - y_ticks.values.front()) * 0.03;
    x_from = x_ticks.values.front() - x_pad;
    x_to = x_ticks.values.back() + x_pad;
    y_from = y_ticks.values.front() - y_pad;
    y_to = y_ticks.values.back() + y_pad;
  }
  auto px = [&](double x) { return x0 + (x - x_from) / (x_to - x_from) * plot_width; };
  auto py = [&](double y) { return y1 - (y - y_from) / (y_to - y_from) * plot_height; };

  std::string svg = svg_open(chart.width, chart.height, chart.title.empty() ? "line chart" : chart.title);
  if (!chart.title.empty()) {
    svg +=
        text_at(x0 + plot_width / 2, 20,
                "text-anchor=\"middle\" font-size=\"" + coord(kTitleFontSize) + "\" font-weight=\"bold\"", chart.title);
  }

  if (has_data) {
    svg += "<g stroke=\"" + std::string(kGridColour) + "\" stroke-width=\"1\">\n";
    for (double v : y_ticks.values) svg += line(x0, py(v), x1, py(v));
    for (double v : x_ticks.values) svg += line(px(v), y0, px(v), y1);
    svg += "</g>\n";
  }
  svg += "<g stroke=\"" + std::string(kAxisColour) + "\" stroke-width=\"1\">\n";
  svg += line(x0, y1, x1, y1);
  svg += line(x0, y0, x0, y1);
  if (has_data) {
    for (double v : y_ticks.values) svg += line(x0 - tick_length, py(v), x0, py(v));
    for (double v : x_ticks.values) svg += line(px(v), y1, px(v), y1 + tick_length);
  }
  svg += "</g>\n";
  if (has_data) {
    svg += "<g fill=\"" + std::string(kAxisColour) + "\">\n";
    for (size_t i = 0; i < y_labels.size(); ++i) {
      svg += text_at(x0 - tick_length - 3, py(y_ticks.values[i]), "text-anchor=\"end\" dy=\"0.32em\"", y_labels[i]);
    }
    for (size_t i = 0; i < x_labels.size(); ++i) {
      svg += text_at(px(x_ticks.values[i]), y1 + tick_length + 12, "text-anchor=\"middle\"", x_labels[i]);
    }
    svg += "</g>\n";
  } else {
    svg += text_at(x0 + plot_width / 2, y0 + plot_height / 2,
                   "text-anchor=\"middle\" dy=\"0.32em\" fill=\"" + std::string(kMutedTextColour) + "\"", "no data");
  }
  if (!chart.x_label.empty()) {
    svg += text_at(x0 + plot_width / 2, height - 8, "text-anchor=\"middle\"", chart.x_label);
  }
  if (!chart.y_label.empty()) {
    // Rotated a quarter turn anticlockwise, the glyphs grow leftwards from the baseline, which sits at the band's
    // right edge.
    const double bx = 8 + 13, by = y0 + plot_height / 2;
    svg += text_at(bx, by, "text-anchor=\"middle\" transform=\"rotate(-90 " + coord(bx) + " " + coord(by) + ")\"",
                   chart.y_label);
  }

  auto colour_of = [&](size_t s) {
    const std::string& colour = chart.series[s].colour;
    return html_escape(colour.empty() ? series_colour(s) : colour);
  };
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const std::string colour = colour_of(s);
    svg += "<g fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"1.8\" stroke-linejoin=\"round\"" +
           (chart.series[s].dashed ? " stroke-dasharray=\"6 4\"" : "") + ">\n";
    size_t points = 0;
    for (const auto& run : segments[s]) {
      svg += "<polyline points=\"";
      for (size_t i = 0; i < run.size(); ++i) {
        svg += (i == 0 ? "" : " ") + coord(px(run[i].x)) + "," + coord(py(run[i].y));
      }
      svg += "\"/>\n";
      points += run.size();
    }
    svg += "</g>\n";
    // Markers closer than a few pixels merge into a thick smear that hides the line; then the line alone shows.
    if (static_cast<double>(points) <= plot_width / 5) {
      svg += "<g fill=\"" + colour + "\">\n";
      for (const auto& run : segments[s]) {
        for (const Point& p : run) {
          svg += "<circle cx=\"" + coord(px(p.x)) + "\" cy=\"" + coord(py(p.y)) + "\" r=\"2.5\"/>\n";
        }
      }
      svg += "</g>\n";
    }
  }

  if (!legend_entries.empty()) {
    const double row = 16;
    const double lx = x1 + 12, ly = y0;
    const double legend_height = row * static_cast<double>(legend_entries.size()) + legend_padding;
    svg += "<g>\n<rect x=\"" + coord(lx) + "\" y=\"" + coord(ly) + "\" width=\"" + coord(legend_width) +
           "\" height=\"" + coord(legend_height) + "\" fill=\"#ffffff\" stroke=\"#cccccc\" rx=\"3\"/>\n";
    for (size_t e = 0; e < legend_entries.size(); ++e) {
      const size_t s = legend_entries[e];
      const ChartSeries& series = chart.series[s];
      const std::string colour = colour_of(s);
      const double cy = ly + legend_padding / 2 + row * (static_cast<double>(e) + 0.5);
      const double sx = lx + legend_padding;
      svg += "<g>\n<title>" + html_escape(series.name) + "</title>\n";
      svg += "<line x1=\"" + coord(sx) + "\" y1=\"" + coord(cy) + "\" x2=\"" + coord(sx + sample_width) + "\" y2=\"" +
             coord(cy) + "\" stroke=\"" + colour + "\" stroke-width=\"1.8\"" +
             (series.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>\n";
      svg += "<circle cx=\"" + coord(sx + sample_width / 2) + "\" cy=\"" + coord(cy) + "\" r=\"2.5\" fill=\"" + colour +
             "\"/>\n";
      svg += text_at(sx + sample_width + 6, cy, "dy=\"0.32em\"", shortened(series.name, name_room));
      svg += "</g>\n";
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
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
  const Ticks y_ticks =
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
  if (id.empty() || id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
                        std::string::npos)
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
