// Pictures for the report (data set previews, predictions): 8-bit images encoded as PNG in memory through libpng.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom::report {

// An 8-bit image, row-major: gray (1 channel) or RGB (3 channels, interleaved).
struct Image8 {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 1;
  std::vector<uint8_t> pixels;  // width · height · channels values
};

// The PNG file bytes of `image`. A loom::Error for an image whose sizes or pixel count do not agree, or that libpng
// refuses.
std::string encode_png(const Image8& image);

}  // namespace loom::report
