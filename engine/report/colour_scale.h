// Colour scales for the report's pictures: matplotlib's viridis (the tutorial's default colormap) and its "binary"
// (white for 0, black for the highest value) that the tutorial's grids use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom::report {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

// Viridis at t in [0, 1] (clamped; NaN as 0), interpolated linearly between tabulated anchor colours of the
// published colormap: t = 0 is dark purple (#440154), t = 1 yellow (#fde725).
Rgb viridis(double t);
// matplotlib's "binary": 255 − value in every channel.
Rgb binary(uint8_t value);
// "#rrggbb"
std::string css_colour(Rgb colour);
// `count` (≥ 2) viridis colours evenly spaced from t = 0 to t = 1, as CSS colours (for colour_bar_svg).
std::vector<std::string> viridis_stops(int count);

}  // namespace loom::report
