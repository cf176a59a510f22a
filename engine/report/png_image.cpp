#include "engine/report/png_image.h"

#include <png.h>

#include <cstring>

#include "engine/runtime/errors.h"

namespace loom::report {

std::string encode_png(const Image8& image) {
  if (image.width < 1 || image.height < 1 || image.width > PNG_UINT_31_MAX || image.height > PNG_UINT_31_MAX ||
      (image.channels != 1 && image.channels != 3))
    throw Error("cannot encode a PNG of " + std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                std::to_string(image.channels) + " (gray or RGB images of at least 1x1 only)");
  const auto expected =
      static_cast<uint64_t>(image.width) * static_cast<uint64_t>(image.height) * static_cast<uint64_t>(image.channels);
  if (image.pixels.size() != expected)
    throw Error("cannot encode a PNG: " + std::to_string(image.pixels.size()) + " values for a " +
                std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                std::to_string(image.channels) + " image");
  // libpng's simplified API reports failures in the png_image, not by longjmp, so no C++ object is jumped over.
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(image.width);
  png.height = static_cast<png_uint_32>(image.height);
  png.format = image.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&png, nullptr, &size, 0, image.pixels.data(), 0, nullptr))
    throw Error(std::string("cannot encode a PNG: ") + png.message);
  std::string bytes(size, '\0');
  if (!png_image_write_to_memory(&png, bytes.data(), &size, 0, image.pixels.data(), 0, nullptr))
    throw Error(std::string("cannot encode a PNG: ") + png.message);
  bytes.resize(size);
  return bytes;
}

}  // namespace loom::report
