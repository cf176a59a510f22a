#include "engine/report/colour_scale.h"

#include <cmath>
#include <cstdio>

#include "engine/runtime/errors.h"

namespace loom::report {

namespace {

// matplotlib's viridis sampled at t = 0, 1/8, ..., 1. Viridis is nearly linear in each channel between these
// anchors, so interpolating them stays within a couple of levels of the 256-entry table without carrying it.
constexpr int kAnchors = 9;
constexpr Rgb kViridis[kAnchors] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x91, 0x8c},
    {0x28, 0xae, 0x80}, {0x5e, 0xc9, 0x62}, {0xad, 0xdc, 0x30}, {0xfd, 0xe7, 0x25},
};

uint8_t mix(uint8_t a, uint8_t b, double f) {
  return static_cast<uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
}

}  // namespace

Rgb viridis(double t) {
  // `!(t > 0)` rather than `t < 0` so that NaN lands on the first anchor too.
  if (!(t > 0)) return kViridis[0];
  if (t >= 1) return kViridis[kAnchors - 1];
  const double position = t * (kAnchors - 1);
  const int i = static_cast<int>(position);  // < kAnchors - 1 because t < 1
  const double f = position - i;
  const Rgb& a = kViridis[i];
  const Rgb& b = kViridis[i + 1];
  return {mix(a.r, b.r, f), mix(a.g, b.g, f), mix(a.b, b.b, f)};
}

Rgb binary(uint8_t value) {
  const auto level = static_cast<uint8_t>(255 - value);
  return {level, level, level};
}

std::string css_colour(Rgb colour) {
  char text[8];
  std::snprintf(text, sizeof text, "#%02x%02x%02x", colour.r, colour.g, colour.b);
  return text;
}

std::vector<std::string> viridis_stops(int count) {
  if (count < 2) throw Error("viridis_stops: count must be at least 2, got " + std::to_string(count));
  std::vector<std::string> stops;
  stops.reserve(count);
  for (int i = 0; i < count; ++i) stops.push_back(css_colour(viridis(static_cast<double>(i) / (count - 1))));
  return stops;
}

}  // namespace loom::report
