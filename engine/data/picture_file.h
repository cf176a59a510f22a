// Pictures a user wants classified (predict's IMAGE arguments): PNG files of any kind (gray or colour, with or
// without alpha, palette, 1 to 16 bits) and size (up to 1,000,000 pixels a side), made into a Fashion-MNIST sample
// the way the data set's own images were made: light garment on a black background, the longer side scaled to 28
// pixels and the picture centred.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/runtime/tensor.h"

namespace loom {

constexpr int64_t kPictureSide = 28;

struct PictureOptions {
  // For photos of dark things on a light background (most product photos): gray values are inverted, so the
  // background becomes black as in Fashion-MNIST.
  bool invert = false;
};

// Reads the PNG at `path` and returns uint8 [28, 28] on the CPU. Pictures are decoded a row at a time and scaled as
// they come, so their memory grows with their width only; a side may be up to 1,000,000 pixels (libpng's own default
// limit). An interlaced PNG is held whole while it is decoded, and may have up to 2^24 pixels. Errors are one line
// naming the file (control characters in the path spelled out), typed as engine/io/input_file.h says: a
// loom::UsageError when it does not exist or is not a regular file; a loom::Error when it cannot be read, is not a
// PNG (told by its signature, not its name), is corrupt or truncated anywhere up to its IEND chunk, or is larger
// than the limits above (refused from the header before any allocation). Colour becomes gray by luma, 0.299 R +
// 0.587 G + 0.114 B, as PIL's convert('L') does; palette and tRNS transparency are expanded; 16-bit samples keep
// their precision; gamma and colour profiles (gAMA, sRGB, iCCP) and the bKGD background are ignored, the samples
// taken as stored. Damaged ancillary chunks are skipped silently, as libpng does; only image data and critical
// chunks must be intact. The result is to_fashion_mnist_pixels of the picture's gray and alpha values, exactly.
Tensor read_picture(const std::string& path, const PictureOptions& options = {});

// The conversion alone (tested without files): `gray` holds width·height values in [0, 1] (0 black), row-major;
// `alpha` is empty or holds one opacity in [0, 1] per pixel. Transparent parts become the background (black after
// the optional inversion: composited over black, or over white when inverting), then inversion maps v to 1 − v. The
// longer side is scaled to 28 (area averaging, edge pixels weighted by the fraction covered, when shrinking;
// bilinear with pixel centres aligned, as PIL's, when enlarging), the shorter one to round(side·28/longer), at
// least 1 pixel, and the result centred on black (offset floor((28 − side)/2)); values are rounded to 0..255. A
// 28×28 picture without alpha or inversion comes out exactly as round(255·v), so a Fashion-MNIST image saved as a
// PNG is read back unchanged. A loom::UsageError when the sizes are not positive or the vectors' lengths do not
// match them; values outside [0, 1] are clamped.
std::vector<uint8_t> to_fashion_mnist_pixels(const std::vector<float>& gray, const std::vector<float>& alpha,
                                             int64_t width, int64_t height, const PictureOptions& options = {});

}  // namespace loom
