// The report's SVG charts and colour scales: tick values a reader would pick, charts that a browser can parse (tags
// balanced, text escaped) and that show the data (one line per unbroken run, bars coloured as the tutorial colours
// them), and viridis/binary as matplotlib defines them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/report/axis_ticks.h"
#include "engine/report/colour_scale.h"
#include "engine/report/svg_chart.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

using report::ChartSeries;
using report::LineChart;
using report::Rgb;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_'; }

// "" when every '&' in `text` starts one of XML's entities.
std::string entity_problem(const std::string& text) {
  for (size_t at = text.find('&'); at != std::string::npos; at = text.find('&', at + 1)) {
    const size_t semicolon = text.find(';', at);
    if (semicolon == std::string::npos) return "bare '&' in '" + text + "'";
    const std::string entity = text.substr(at + 1, semicolon - at - 1);
    const bool numeric = entity.size() > 1 && entity[0] == '#' &&
                         std::all_of(entity.begin() + 1, entity.end(), [](char c) { return std::isdigit(c) != 0; });
    if (!numeric && entity != "amp" && entity != "lt" && entity != "gt" && entity != "quot" && entity != "apos") {
      return "unknown entity '&" + entity + ";'";
    }
  }
  return "";
}

// Enough of XML to catch what a browser would choke on or misread: one root element, every tag closed in order,
// attributes quoted and not repeated, no bare '<', '>' or '&' in text or values. Returns "" when none is found.
std::string xml_problem(const std::string& text) {
  std::vector<std::string> open;
  int roots = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '<') {
      const size_t next = std::min(text.find('<', i), text.size());
      const std::string content = text.substr(i, next - i);
      if (open.empty() && content.find_first_not_of(" \n") != std::string::npos) return "text outside the root";
      if (content.find('>') != std::string::npos) return "bare '>' in text '" + content + "'";
      if (std::string problem = entity_problem(content); !problem.empty()) return problem;
      i = next;
      continue;
    }
    const bool closing = i + 1 < text.size() && text[i + 1] == '/';
    size_t j = i + 1 + (closing ? 1 : 0);
    const size_t name_start = j;
    while (j < text.size() && is_name_char(text[j])) ++j;
    const std::string name = text.substr(name_start, j - name_start);
    if (name.empty()) return "'<' that starts no tag at " + std::to_string(i);
    if (closing) {
      if (j >= text.size() || text[j] != '>') return "malformed </" + name;
      if (open.empty() || open.back() != name) {
        return "</" + name + "> closes " + (open.empty() ? std::string("nothing") : "<" + open.back() + ">");
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    if (open.empty() && ++roots > 1) return "a second root element <" + name + ">";
    std::set<std::string> attributes;
    for (;;) {
      while (j < text.size() && text[j] == ' ') ++j;
      if (j >= text.size()) return "unterminated <" + name;
      if (text[j] == '/') {
        if (j + 1 >= text.size() || text[j + 1] != '>') return "stray '/' in <" + name;
        i = j + 2;
        break;
      }
      if (text[j] == '>') {
        open.push_back(name);
        i = j + 1;
        break;
      }
      const size_t attribute_start = j;
      while (j < text.size() && is_name_char(text[j])) ++j;
      const std::string attribute = text.substr(attribute_start, j - attribute_start);
      if (attribute.empty()) return "junk in <" + name + "> at " + std::to_string(j);
      if (!attributes.insert(attribute).second) return "repeated " + attribute + " in <" + name + ">";
      if (text.compare(j, 2, "=\"") != 0) return attribute + " in <" + name + "> is not =\"...\"";
      const size_t close = text.find('"', j + 2);
      if (close == std::string::npos) return "unclosed value of " + attribute;
      const std::string value = text.substr(j + 2, close - j - 2);
      if (value.find('<') != std::string::npos) return "'<' in the value of " + attribute;
      if (std::string problem = entity_problem(value); !problem.empty()) return problem;
      j = close + 1;
      if (j < text.size() && text[j] != ' ' && text[j] != '/' && text[j] != '>') return "no space after " + attribute;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (roots != 1) return "no root element";
  return "";
}

// Every start tag of the named element, in document order.
std::vector<std::string> start_tags(const std::string& svg, const std::string& element) {
  std::vector<std::string> tags;
  const std::string opening = "<" + element + " ";
  for (size_t at = svg.find(opening); at != std::string::npos; at = svg.find(opening, at + 1)) {
    tags.push_back(svg.substr(at, svg.find('>', at) - at + 1));
  }
  return tags;
}

std::string attribute(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return tag.substr(start, tag.find('"', start) - start);
}

// The y coordinate of the <text> whose content is exactly `content`; NaN when there is none.
double text_y(const std::string& svg, const std::string& content) {
  const size_t end = svg.find(">" + content + "</text>");
  if (end == std::string::npos) return kNaN;
  const size_t start = svg.rfind("<text ", end);
  return std::stod(attribute(svg.substr(start, end - start + 1), "y"));
}

bool has_non_finite_number(const std::string& svg) {
  std::string lower = svg;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("nan") != std::string::npos || lower.find("inf") != std::string::npos;
}

ChartSeries series(const std::string& name, const std::string& colour, bool dashed, std::vector<double> y,
                   double first_x = 1) {
  ChartSeries s;
  s.name = name;
  s.colour = colour;
  s.dashed = dashed;
  s.y = std::move(y);
  for (size_t i = 0; i < s.y.size(); ++i) s.x.push_back(first_x + static_cast<double>(i));
  return s;
}

// Ten epochs of accuracy between 0.80 and 0.92, as a short training run gives them.
LineChart accuracy_chart() {
  LineChart chart;
  chart.title = "Accuracy";
  chart.x_label = "epoch";
  chart.y_label = "accuracy";
  chart.series.push_back(
      series("train acc", "#1f77b4", false, {0.80, 0.84, 0.86, 0.875, 0.885, 0.89, 0.90, 0.91, 0.915, 0.92}));
  chart.series.push_back(
      series("val acc", "#ff7f0e", true, {0.82, 0.845, 0.85, 0.86, 0.865, 0.87, 0.872, 0.874, 0.875, 0.876}));
  return chart;
}

// The line of the SVG that starts the element containing `needle`.
std::string line_with(const std::string& svg, const std::string& needle) {
  const size_t at = svg.find(needle);
  if (at == std::string::npos) return "";
  const size_t start = svg.rfind('\n', at) + 1;
  return svg.substr(start, svg.find('\n', at) - start);
}

TEST(SvgChart, XmlCheckerRejectsBrokenMarkup) {
  EXPECT_EQ(xml_problem("<svg a=\"1\"><g><text x=\"1\">a &amp; b</text></g><circle r=\"2\"/></svg>\n"), "");
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg><g>"), "");
  EXPECT_NE(xml_problem("<svg><text>a & b</text></svg>"), "");
  EXPECT_NE(xml_problem("<svg><text><b></text></svg>"), "");
  EXPECT_NE(xml_problem("<svg a=\"1\" a=\"2\"></svg>"), "");
  EXPECT_NE(xml_problem("<svg a=\"x\"y\"></svg>"), "");
  EXPECT_NE(xml_problem("<svg></svg><svg></svg>"), "");
}

TEST(SvgChart, NiceTicksPickRoundValuesForKnownRanges) {
  EXPECT_EQ(report::nice_ticks(0, 1, 6), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  // The same doubles as the literals, not 0.30000000000000004: labels and comparisons see what a reader sees.
  EXPECT_EQ(report::nice_ticks(0.3, 0.7, 5), (std::vector<double>{0.3, 0.4, 0.5, 0.6, 0.7}));
  // Accuracy curves zoom in rather than start at zero.
  EXPECT_EQ(report::nice_ticks(0.8, 0.92, 6), (std::vector<double>{0.8, 0.82, 0.84, 0.86, 0.88, 0.9, 0.92}));
  EXPECT_EQ(report::nice_ticks(1, 30, 7), (std::vector<double>{0, 5, 10, 15, 20, 25, 30}));
  EXPECT_EQ(report::nice_ticks(-7, 13, 5), (std::vector<double>{-10, -5, 0, 5, 10, 15}));
  EXPECT_EQ(report::nice_ticks(1e-5, 4e-5, 4), (std::vector<double>{1e-5, 2e-5, 3e-5, 4e-5}));
  // Bounds in either order.
  EXPECT_EQ(report::nice_ticks(1, 0, 6), report::nice_ticks(0, 1, 6));
}

TEST(SvgChart, NiceTicksCoverAnyRangeWithOneTwoFiveStepsAndAboutTheCount) {
  std::mt19937 random(12345);
  std::uniform_real_distribution<double> exponent(-8, 8), unit(-1, 1);
  std::uniform_int_distribution<int> counts(2, 12);
  for (int trial = 0; trial < 2000; ++trial) {
    const double scale = std::pow(10.0, exponent(random));
    double lo = unit(random) * scale, hi = unit(random) * scale;
    if (lo > hi) std::swap(lo, hi);
    const int count = counts(random);
    const std::vector<double> ticks = report::nice_ticks(lo, hi, count);
    SCOPED_TRACE("lo=" + std::to_string(lo) + " hi=" + std::to_string(hi) + " count=" + std::to_string(count));
    ASSERT_GE(ticks.size(), 2u);
    EXPECT_LE(ticks.front(), lo);
    EXPECT_GE(ticks.back(), hi);
    // Not much wider than needed: the ends are less than one step outside the range.
    const double step = ticks[1] - ticks[0];
    EXPECT_GT(ticks.front(), lo - step);
    EXPECT_LT(ticks.back(), hi + step);
    for (size_t i = 1; i < ticks.size(); ++i) EXPECT_NEAR(ticks[i] - ticks[i - 1], step, step * 1e-9);
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-9 || std::fabs(mantissa - 2) < 1e-9 || std::fabs(mantissa - 5) < 1e-9)
        << "step " << step;
    for (double v : ticks) EXPECT_NEAR(v / step, std::round(v / step), 1e-6) << v << " is not a multiple of " << step;
    // Rounding the step to 1, 2 or 5 makes it at most 5/3 (3 → 5) and at least 2/3 (1.5 → 1) of the exact one.
    EXPECT_GE(static_cast<double>(ticks.size()), std::ceil((count - 1) * 0.6) + 1);
    EXPECT_LE(static_cast<double>(ticks.size()), 1.5 * (count - 1) + 3);
  }
}

TEST(SvgChart, NiceTicksWidenASingleValue) {
  for (double v : {0.0, 5.0, -3.0, 0.85, 1e-7, 1e12}) {
    const std::vector<double> ticks = report::nice_ticks(v, v, 5);
    ASSERT_GE(ticks.size(), 2u) << v;
    EXPECT_LT(ticks.front(), v);
    EXPECT_GT(ticks.back(), v);
    // Around the value, not from zero: the widening is relative to it (±1 around zero).
    EXPECT_LE(ticks.back() - ticks.front(), v == 0 ? 2.0 : std::fabs(v) * 0.5) << v;
  }
}

TEST(SvgChart, NiceTicksRejectNonFiniteBoundsAndTooFewTicks) {
  EXPECT_THROW(report::nice_ticks(kNaN, 1, 5), Error);
  EXPECT_THROW(report::nice_ticks(0, kNaN, 5), Error);
  EXPECT_THROW(report::nice_ticks(0, kInf, 5), Error);
  EXPECT_THROW(report::nice_ticks(-kInf, 0, 5), Error);
  EXPECT_THROW(report::nice_ticks(0, 1, 1), Error);
  EXPECT_THROW(report::nice_ticks(0, 1, -3), Error);
  EXPECT_THROW(report::nice_ticks(-1.5e308, 1.5e308, 5), Error);
}

TEST(SvgChart, LineChartShowsTitleLabelsAndLegend) {
  const std::string svg = report::line_chart_svg(accuracy_chart());
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(svg.rfind("<svg ", 0), 0u);
  const std::string root = start_tags(svg, "svg").at(0);
  EXPECT_EQ(attribute(root, "width"), "520");
  EXPECT_EQ(attribute(root, "height"), "320");
  EXPECT_EQ(attribute(root, "viewBox"), "0 0 520 320");
  EXPECT_EQ(attribute(root, "role"), "img");
  EXPECT_EQ(attribute(root, "aria-label"), "Accuracy");
  EXPECT_EQ(attribute(root, "font-family"), "sans-serif");
  EXPECT_EQ(count_of(svg, ">Accuracy</text>"), 1u);
  EXPECT_EQ(count_of(svg, ">epoch</text>"), 1u);
  EXPECT_NE(line_with(svg, ">accuracy</text>").find("rotate(-90"), std::string::npos);
  EXPECT_EQ(count_of(svg, ">train acc</text>"), 1u);
  EXPECT_EQ(count_of(svg, ">val acc</text>"), 1u);
  // The title is above the plot and the legend below the title.
  EXPECT_LT(text_y(svg, "Accuracy"), text_y(svg, "train acc"));
  EXPECT_LT(text_y(svg, "train acc"), text_y(svg, "val acc"));
  EXPECT_FALSE(has_non_finite_number(svg));
}

TEST(SvgChart, LineChartDrawsOnePolylineAndAMarkerPerPointForEachSeries) {
  const std::string svg = report::line_chart_svg(accuracy_chart());
  const std::vector<std::string> polylines = start_tags(svg, "polyline");
  ASSERT_EQ(polylines.size(), 2u);
  EXPECT_EQ(count_of(attribute(polylines[0], "points"), ","), 10u);
  EXPECT_EQ(count_of(attribute(polylines[1], "points"), ","), 10u);
  // 20 data points and one marker per legend entry.
  EXPECT_EQ(start_tags(svg, "circle").size(), 22u);
  // Validation dashed, training solid: in the series' groups and in the legend's samples.
  EXPECT_NE(line_with(svg, "<g fill=\"none\" stroke=\"#ff7f0e\"").find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(line_with(svg, "<g fill=\"none\" stroke=\"#1f77b4\"").find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(count_of(svg, "stroke-dasharray"), 2u);
  // Higher accuracy is drawn higher up: the training curve's last point (0.92) above its first (0.80).
  const std::string points = attribute(polylines[0], "points");
  const double first_y = std::stod(points.substr(points.find(',') + 1));
  const double last_y = std::stod(points.substr(points.rfind(',') + 1));
  EXPECT_LT(last_y, first_y);
}

TEST(SvgChart, LineChartZoomsTheYAxisOnTheDataAndLabelsWholeEpochs) {
  const std::string svg = report::line_chart_svg(accuracy_chart());
  EXPECT_EQ(count_of(svg, ">0.80</text>"), 1u);
  EXPECT_EQ(count_of(svg, ">0.92</text>"), 1u);
  EXPECT_EQ(count_of(svg, ">0.00</text>"), 0u);
  EXPECT_EQ(count_of(svg, ">0.800000</text>"), 0u);
  for (int epoch = 1; epoch <= 10; ++epoch) {
    EXPECT_EQ(count_of(svg, ">" + std::to_string(epoch) + "</text>"), 1u) << epoch;
  }
  EXPECT_EQ(count_of(svg, ">1.5</text>"), 0u);
  // 0.80 sits below 0.92.
  EXPECT_GT(text_y(svg, "0.80"), text_y(svg, "0.92"));
}

TEST(SvgChart, LineChartLabelsAtMostTenEpochsOfMany) {
  LineChart chart = accuracy_chart();
  chart.series.resize(1);
  chart.series[0] = series("loss", "", false, std::vector<double>(100, 0.5));
  for (size_t i = 0; i < 100; ++i) chart.series[0].y[i] = 2.0 / static_cast<double>(i + 1);
  const std::string svg = report::line_chart_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  int whole_number_labels = 0;
  for (int v = 0; v <= 100; ++v)
    whole_number_labels += static_cast<int>(count_of(svg, ">" + std::to_string(v) + "</text>"));
  EXPECT_GE(whole_number_labels, 3);
  EXPECT_LE(whole_number_labels, 10);
  EXPECT_EQ(count_of(svg, ">100</text>"), 1u);
  // A series without a colour takes the first of matplotlib's.
  EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
}

TEST(SvgChart, LineChartBreaksTheLineAtGaps) {
  LineChart chart = accuracy_chart();
  chart.series = {series("", "#2ca02c", false, {0.1, 0.2, kNaN, 0.4, 0.5, kInf, 0.7, -kInf})};
  const std::string svg = report::line_chart_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  const std::vector<std::string> polylines = start_tags(svg, "polyline");
  ASSERT_EQ(polylines.size(), 3u);
  EXPECT_EQ(count_of(attribute(polylines[0], "points"), ","), 2u);
  EXPECT_EQ(count_of(attribute(polylines[1], "points"), ","), 2u);
  EXPECT_EQ(count_of(attribute(polylines[2], "points"), ","), 1u);
  // No legend for a nameless series, so the circles are the five finite points.
  EXPECT_EQ(start_tags(svg, "circle").size(), 5u);
  EXPECT_FALSE(has_non_finite_number(svg));
}

TEST(SvgChart, LineChartDrawsASinglePoint) {
  LineChart chart = accuracy_chart();
  chart.series = {series("only", "#1f77b4", false, {0.5})};
  const std::string svg = report::line_chart_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(start_tags(svg, "polyline").size(), 1u);
  EXPECT_EQ(start_tags(svg, "circle").size(), 2u);  // the point and its legend marker
  EXPECT_EQ(count_of(svg, ">1</text>"), 1u);
  EXPECT_EQ(count_of(svg, "no data"), 0u);
  EXPECT_FALSE(has_non_finite_number(svg));
  // The value is widened into a range around it, and the point drawn level with its tick.
  const std::string circle = start_tags(svg, "circle").at(0);
  EXPECT_NEAR(std::stod(attribute(circle, "cy")), text_y(svg, "0.50"), 0.01);
  EXPECT_GT(text_y(svg, "0.44"), text_y(svg, "0.50"));
  EXPECT_LT(text_y(svg, "0.56"), text_y(svg, "0.50"));
}

TEST(SvgChart, LineChartEscapesEveryString) {
  LineChart chart = accuracy_chart();
  chart.title = "run <1> & 'two'";
  chart.x_label = "x<";
  chart.series[0].name = "<b>&\"x\"";
  chart.series[1].colour = "\"><script>";
  const std::string svg = report::line_chart_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(svg.find("<b>&\"x\""), std::string::npos);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("<1>"), std::string::npos);
  EXPECT_NE(svg.find(">&lt;b&gt;&amp;&quot;x&quot;</text>"), std::string::npos);
  EXPECT_NE(svg.find(">run &lt;1&gt; &amp; &#39;two&#39;</text>"), std::string::npos);
  EXPECT_NE(svg.find("aria-label=\"run &lt;1&gt; &amp; &#39;two&#39;\""), std::string::npos);
  EXPECT_NE(svg.find(">x&lt;</text>"), std::string::npos);
}

TEST(SvgChart, LineChartShortensLongLegendNamesButKeepsThemAsTooltips) {
  LineChart chart = accuracy_chart();
  const std::string name = "validation accuracy of the second run with a much larger learning rate";
  chart.series[1].name = name;
  const std::string svg = report::line_chart_svg(chart);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(count_of(svg, "<title>" + name + "</title>"), 1u);
  EXPECT_EQ(count_of(svg, ">" + name + "</text>"), 0u);
  // The legend text is the name's beginning and an ellipsis.
  const size_t ellipsis = svg.find("\xE2\x80\xA6</text>");
  ASSERT_NE(ellipsis, std::string::npos);
  const size_t start = svg.rfind('>', ellipsis) + 1;
  const std::string shown = svg.substr(start, ellipsis - start);
  EXPECT_GE(shown.size(), 8u);
  EXPECT_EQ(name.compare(0, shown.size(), shown), 0) << shown;
}

TEST(SvgChart, LineChartWithoutFinitePointsSaysNoData) {
  LineChart chart = accuracy_chart();
  chart.series = {series("loss", "#1f77b4", false, {kNaN, kNaN}), series("empty", "#ff7f0e", true, {})};
  for (const LineChart& c : {chart, LineChart{}}) {
    const std::string svg = report::line_chart_svg(c);
    EXPECT_EQ(xml_problem(svg), "");
    EXPECT_EQ(count_of(svg, ">no data</text>"), 1u);
    EXPECT_EQ(start_tags(svg, "polyline").size(), 0u);
    EXPECT_FALSE(has_non_finite_number(svg));
  }
}

TEST(SvgChart, LineChartRejectsMismatchedSeriesAndTinySizes) {
  LineChart chart = accuracy_chart();
  chart.series[1].x.pop_back();
  chart.series[1].name = "val\nacc";
  try {
    report::line_chart_svg(chart);
    ADD_FAILURE() << "no error for 9 x values and 10 y values";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "line chart 'Accuracy': series 'val\\nacc' has 9 x values but 10 y values");
  }
  chart = accuracy_chart();
  chart.width = 50;
  EXPECT_THROW(report::line_chart_svg(chart), Error);
}

const std::vector<std::string> kClassNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<float> kProbabilities = {0.01f, 0.02f, 0.05f, 0.1234f, 0.03f, 0.6f, 0.1f, 0.0366f, 0.02f, 0.01f};

std::vector<std::string> bar_fills(const std::string& svg) {
  std::vector<std::string> fills;
  for (const std::string& rect : start_tags(svg, "rect")) fills.push_back(attribute(rect, "fill"));
  return fills;
}

TEST(SvgChart, ProbabilityBarsColourThePredictedAndTheTrueClass) {
  const std::string svg = report::probability_bars_svg(kProbabilities, 3, 5, kClassNames, 240, 160);
  EXPECT_EQ(xml_problem(svg), "");
  const std::vector<std::string> fills = bar_fills(svg);
  ASSERT_EQ(fills.size(), 10u);
  for (size_t c = 0; c < fills.size(); ++c) {
    EXPECT_EQ(fills[c], c == 3 ? "#ff0000" : c == 5 ? "#0000ff" : "#777777") << c;
  }
  EXPECT_EQ(count_of(svg, "<title>Dress: 0.1234</title>"), 1u);
  EXPECT_EQ(count_of(svg, "<title>Sandal: 0.6000</title>"), 1u);
  EXPECT_EQ(count_of(svg, "<title>T-shirt/top: 0.0100</title>"), 1u);
  for (int c = 0; c < 10; ++c) EXPECT_EQ(count_of(svg, ">" + std::to_string(c) + "</text>"), 1u) << c;
  EXPECT_EQ(count_of(svg, ">0.0</text>"), 1u);
  EXPECT_EQ(count_of(svg, ">1.0</text>"), 1u);

  // Heights in proportion to the probabilities, bars standing on one baseline, left to right by class.
  const std::vector<std::string> rects = start_tags(svg, "rect");
  const double sandal = std::stod(attribute(rects[5], "height"));
  const double dress = std::stod(attribute(rects[3], "height"));
  EXPECT_NEAR(dress / sandal, 0.1234 / 0.6, 0.01);
  EXPECT_NEAR(std::stod(attribute(rects[5], "y")) + sandal, std::stod(attribute(rects[3], "y")) + dress, 0.02);
  EXPECT_LT(std::stod(attribute(rects[3], "x")), std::stod(attribute(rects[5], "x")));
  // A probability of 1 reaches the 1.0 tick.
  const std::string full = report::probability_bars_svg({0.0f, 1.0f}, 1, -1, {}, 240, 160);
  EXPECT_NEAR(std::stod(attribute(start_tags(full, "rect").at(1), "y")), text_y(full, "1.0"), 0.02);
}

TEST(SvgChart, ProbabilityBarsShowARightPredictionAsOneBlueBar) {
  const std::vector<std::string> right =
      bar_fills(report::probability_bars_svg(kProbabilities, 5, 5, kClassNames, 240, 160));
  EXPECT_EQ(std::count(right.begin(), right.end(), "#0000ff"), 1);
  EXPECT_EQ(std::count(right.begin(), right.end(), "#ff0000"), 0);
  EXPECT_EQ(right.at(5), "#0000ff");
  const std::vector<std::string> unknown =
      bar_fills(report::probability_bars_svg(kProbabilities, 5, -1, kClassNames, 240, 160));
  EXPECT_EQ(std::count(unknown.begin(), unknown.end(), "#0000ff"), 0);
  EXPECT_EQ(unknown.at(5), "#ff0000");
}

TEST(SvgChart, ProbabilityBarsTakeAnyClassCountAndEscapeNames) {
  const std::vector<float> three = {0.2f, 0.5f, 0.3f};
  const std::string svg = report::probability_bars_svg(three, 1, 0, {"<cat>", "dog & co", "\"bird\""}, 200, 120);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_EQ(start_tags(svg, "rect").size(), 3u);
  EXPECT_NE(svg.find("<title>&lt;cat&gt;: 0.2000</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>dog &amp; co: 0.5000</title>"), std::string::npos);
  EXPECT_EQ(svg.find("<cat>"), std::string::npos);
  // Without names, the index names the class.
  EXPECT_NE(report::probability_bars_svg(three, 1, 0, {}, 200, 120).find("<title>2: 0.3000</title>"),
            std::string::npos);
}

TEST(SvgChart, ProbabilityBarsRejectInconsistentInput) {
  EXPECT_THROW(report::probability_bars_svg({}, 0, 0, {}, 240, 160), Error);
  EXPECT_THROW(report::probability_bars_svg(kProbabilities, 10, 0, kClassNames, 240, 160), Error);
  EXPECT_THROW(report::probability_bars_svg(kProbabilities, 0, 10, kClassNames, 240, 160), Error);
  EXPECT_THROW(report::probability_bars_svg(kProbabilities, 0, 0, {"a", "b"}, 240, 160), Error);
  EXPECT_THROW(report::probability_bars_svg(kProbabilities, 0, 0, kClassNames, 10, 10), Error);
}

TEST(SvgChart, ColourBarLabelsPixelValuesFromTheBottomUp) {
  const std::vector<std::string> stops = report::viridis_stops(9);
  const std::string svg = report::colour_bar_svg(stops, 60, 240, "scale");
  EXPECT_EQ(xml_problem(svg), "");
  for (int v = 0; v <= 250; v += 50) EXPECT_EQ(count_of(svg, ">" + std::to_string(v) + "</text>"), 1u) << v;
  EXPECT_GT(text_y(svg, "0"), text_y(svg, "50"));
  EXPECT_GT(text_y(svg, "200"), text_y(svg, "250"));
  const std::vector<std::string> gradient_stops = start_tags(svg, "stop");
  ASSERT_EQ(gradient_stops.size(), 9u);
  EXPECT_EQ(attribute(gradient_stops.front(), "stop-color"), "#440154");
  EXPECT_EQ(std::stod(attribute(gradient_stops.front(), "offset")), 0.0);
  EXPECT_EQ(attribute(gradient_stops.back(), "stop-color"), "#fde725");
  EXPECT_EQ(std::stod(attribute(gradient_stops.back(), "offset")), 1.0);
  // Offset 0 at the bottom: the gradient runs upwards.
  const std::string gradient = start_tags(svg, "linearGradient").at(0);
  EXPECT_EQ(attribute(gradient, "y1"), "1");
  EXPECT_EQ(attribute(gradient, "y2"), "0");
}

TEST(SvgChart, ColourBarsUseTheGradientIdTheyAreGiven) {
  const std::vector<std::string> stops = report::viridis_stops(5);
  const std::string first = report::colour_bar_svg(stops, 60, 240, "bar-1");
  const std::string second = report::colour_bar_svg(stops, 60, 240, "bar_2");
  EXPECT_EQ(attribute(start_tags(first, "linearGradient").at(0), "id"), "bar-1");
  EXPECT_EQ(attribute(start_tags(second, "linearGradient").at(0), "id"), "bar_2");
  EXPECT_EQ(attribute(start_tags(first, "rect").at(0), "fill"), "url(#bar-1)");
  EXPECT_EQ(attribute(start_tags(second, "rect").at(0), "fill"), "url(#bar_2)");
  EXPECT_EQ(report::colour_bar_svg(stops, 60, 240, "bar-1"), first);  // the same every time
  EXPECT_THROW(report::colour_bar_svg({}, 60, 240, "bar"), Error);
  for (const char* bad : {"", "a b", "x\")", "<id>"}) EXPECT_THROW(report::colour_bar_svg(stops, 60, 240, bad), Error);
}

void expect_rgb(Rgb actual, int r, int g, int b) {
  EXPECT_EQ(actual.r, r);
  EXPECT_EQ(actual.g, g);
  EXPECT_EQ(actual.b, b);
}

TEST(ColourScale, ViridisHitsThePublishedAnchorsAndInterpolatesBetween) {
  expect_rgb(report::viridis(0), 0x44, 0x01, 0x54);
  expect_rgb(report::viridis(0.5), 0x21, 0x91, 0x8c);
  expect_rgb(report::viridis(1), 0xfd, 0xe7, 0x25);
  expect_rgb(report::viridis(0.125), 0x47, 0x2d, 0x7b);
  // Halfway between #440154 and #472d7b, rounded to nearest.
  expect_rgb(report::viridis(1.0 / 16), 70, 23, 104);
}

TEST(ColourScale, ViridisClampsOutOfRangeAndNaN) {
  expect_rgb(report::viridis(-0.5), 0x44, 0x01, 0x54);
  expect_rgb(report::viridis(-kInf), 0x44, 0x01, 0x54);
  expect_rgb(report::viridis(kNaN), 0x44, 0x01, 0x54);
  expect_rgb(report::viridis(1.5), 0xfd, 0xe7, 0x25);
  expect_rgb(report::viridis(kInf), 0xfd, 0xe7, 0x25);
}

// Viridis is built so that lightness rises steadily. Steps of 1/64 raise luminance by at least 2.4 between the
// anchors; rounding the channels to integers can take away up to 0.5 at each end, so more than 1 must remain.
TEST(ColourScale, ViridisGetsLighterAlongTheScale) {
  double previous = -1;
  for (int i = 0; i <= 64; ++i) {
    const Rgb c = report::viridis(i / 64.0);
    const double luminance = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
    EXPECT_GT(luminance, previous + 1) << "t = " << i / 64.0;
    previous = luminance;
  }
}

TEST(ColourScale, BinaryIsWhiteForZeroAndBlackForTheTop) {
  expect_rgb(report::binary(0), 255, 255, 255);
  expect_rgb(report::binary(255), 0, 0, 0);
  expect_rgb(report::binary(100), 155, 155, 155);
}

TEST(ColourScale, CssColourIsLowercaseHashHex) {
  EXPECT_EQ(report::css_colour({0x44, 0x01, 0x54}), "#440154");
  EXPECT_EQ(report::css_colour({255, 0, 16}), "#ff0010");
  EXPECT_EQ(report::css_colour({}), "#000000");
}

TEST(ColourScale, ViridisStopsSpanTheScaleEvenly) {
  EXPECT_EQ(report::viridis_stops(3), (std::vector<std::string>{"#440154", "#21918c", "#fde725"}));
  EXPECT_EQ(report::viridis_stops(9).at(2), "#3b528b");
  EXPECT_THROW(report::viridis_stops(1), Error);
}

}  // namespace
}  // namespace loom::test
