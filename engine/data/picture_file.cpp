#include "engine/data/picture_file.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <system_error>

#include "engine/io/file_text.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

// 16.7 million pixels (4096 x 4096; a 12-megapixel photo fits): reading one takes about 30 bytes a pixel at its peak
// (the decoded samples, then float planes), so this keeps a picture under half a GiB; the fuzzer found 2^26 let a
// run of large pictures take over 2 GiB.
constexpr uint64_t kMaxPicturePixels = uint64_t{1} << 24;
constexpr size_t kPngSignatureBytes = 8;

// --- decoding ------------------------------------------------------------------------------------------------------
//
// libpng reports errors by longjmp back to a setjmp. Jumping over a C++ destructor is undefined behaviour, so the
// decoder is C-style: the function that calls setjmp owns no object with a destructor, the callbacks libpng runs
// between setjmp and longjmp own none either, and everything that outlives a jump lives in a PngDecode reached
// through a pointer (a local changed after setjmp would be indeterminate after the jump). Nothing throws through
// libpng's frames: failures are recorded here and turned into loom errors by the caller.

enum class Failure { None, Libpng, Truncated, ReadError, TooLarge, OutOfMemory };

struct PngDecode {
  std::FILE* file = nullptr;  // positioned after the 8-byte signature, which the caller has checked
  Failure failure = Failure::None;
  int read_errno = 0;
  char message[256] = {};  // libpng's message (Failure::Libpng)
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_bytep* rows = nullptr;
  // The decoded picture, malloc'd (the caller frees it): `height` rows of `row_bytes`, each pixel `channels` samples
  // (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of `bit_depth` 8 or 16 bits (16-bit samples big-endian, as PNG has them).
  unsigned char* pixels = nullptr;
  png_uint_32 width = 0, height = 0;
  int channels = 0;
  int bit_depth = 0;
  size_t row_bytes = 0;
};

void on_png_error(png_structp png, png_const_charp message) {
  auto* d = static_cast<PngDecode*>(png_get_error_ptr(png));
  // A failure recorded before png_error was called (truncation, size) is the better explanation; keep it.
  if (d->failure == Failure::None) {
    d->failure = Failure::Libpng;
    std::snprintf(d->message, sizeof d->message, "%s", message ? message : "unknown error");
  }
  png_longjmp(png, 1);  // never return: libpng's default handler would print to stderr first
}

// Warnings are about ancillary chunks (a bad colour profile, a misplaced text chunk) the picture decodes without;
// a classifier run should not print them.
void on_png_warning(png_structp, png_const_charp) {}

void read_png_bytes(png_structp png, png_bytep out, size_t length) {
  auto* d = static_cast<PngDecode*>(png_get_io_ptr(png));
  errno = 0;
  if (std::fread(out, 1, length, d->file) == length) return;
  if (std::ferror(d->file)) {
    d->failure = Failure::ReadError;
    d->read_errno = errno;
  } else {
    d->failure = Failure::Truncated;
  }
  png_error(png, "read failed");
}

// Decodes the whole file into d->pixels; false (with d->failure set and everything freed) on any failure.
bool decode_png(PngDecode* d) {
  d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_png_error, on_png_warning);
  if (!d->png) {
    d->failure = Failure::OutOfMemory;
    return false;
  }
  d->info = png_create_info_struct(d->png);
  if (!d->info) {
    png_destroy_read_struct(&d->png, nullptr, nullptr);
    d->failure = Failure::OutOfMemory;
    return false;
  }
  if (setjmp(png_jmpbuf(d->png))) {
    png_destroy_read_struct(&d->png, &d->info, nullptr);
    std::free(d->rows);
    std::free(d->pixels);
    d->rows = nullptr;
    d->pixels = nullptr;
    return false;
  }
  png_set_read_fn(d->png, d, read_png_bytes);
  png_set_sig_bytes(d->png, static_cast<int>(kPngSignatureBytes));
  // libpng's own default refuses a side over 10^6 pixels; the pixel count below is the limit that matters, so a
  // long thin picture within it is read and one over it is called too large rather than corrupt.
  png_set_user_limits(d->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_read_info(d->png, d->info);

  d->width = png_get_image_width(d->png, d->info);
  d->height = png_get_image_height(d->png, d->info);
  // Before the pixels are allocated (png_read_info has read only IHDR and the small chunks before the image data):
  // the header alone must not be able to make us reserve gigabytes.
  if (uint64_t{d->width} * d->height > kMaxPicturePixels) {
    d->failure = Failure::TooLarge;
    png_error(d->png, "too large");
  }

  // Every PNG kind becomes 8- or 16-bit gray, gray+alpha, RGB or RGBA. 16-bit samples are kept rather than
  // stripped: the conversion works in floating point, so their precision costs nothing. Gamma (gAMA, sRGB, iCCP)
  // is not applied: samples are used as stored, as PIL and the Fashion-MNIST pipeline use them.
  const int color_type = png_get_color_type(d->png, d->info);
  const int bit_depth = png_get_bit_depth(d->png, d->info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(d->png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(d->png);
  if (png_get_valid(d->png, d->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(d->png);
  png_set_interlace_handling(d->png);
  png_read_update_info(d->png, d->info);

  d->channels = png_get_channels(d->png, d->info);
  d->bit_depth = png_get_bit_depth(d->png, d->info);
  d->row_bytes = png_get_rowbytes(d->png, d->info);
  if (d->channels < 1 || d->channels > 4 || (d->bit_depth != 8 && d->bit_depth != 16) ||
      d->row_bytes != size_t{d->width} * static_cast<size_t>(d->channels * d->bit_depth / 8))
    png_error(d->png, "unexpected layout after conversion");

  d->pixels = static_cast<unsigned char*>(std::malloc(d->row_bytes * d->height));
  d->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * d->height));
  if (!d->pixels || !d->rows) {
    d->failure = Failure::OutOfMemory;
    png_error(d->png, "out of memory");
  }
  for (png_uint_32 y = 0; y < d->height; ++y) d->rows[y] = d->pixels + d->row_bytes * y;
  png_read_image(d->png, d->rows);
  // Reads on to IEND, so a file cut anywhere, even after the image data, is reported rather than half-read.
  png_read_end(d->png, nullptr);

  png_destroy_read_struct(&d->png, &d->info, nullptr);
  std::free(d->rows);
  d->rows = nullptr;
  return true;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
struct MallocFree {
  void operator()(unsigned char* p) const { std::free(p); }
};

// The decoded samples as gray in [0, 1] and, when the picture has alpha, opacity in [0, 1].
void decoded_to_gray(const PngDecode& d, std::vector<float>& gray, std::vector<float>& alpha) {
  const size_t n = size_t{d.width} * d.height;
  const bool has_alpha = d.channels == 2 || d.channels == 4;
  const bool colour = d.channels >= 3;
  const double full = d.bit_depth == 16 ? 65535.0 : 255.0;
  gray.resize(n);
  alpha.assign(has_alpha ? n : 0, 0.f);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char* p = d.pixels + i * static_cast<size_t>(d.channels * d.bit_depth / 8);
    auto sample = [&](int c) { return d.bit_depth == 16 ? ((p[2 * c] << 8) | p[2 * c + 1]) / full : p[c] / full; };
    // Luma with ITU-R 601 weights, as PIL's convert('L') does (without its rounding to 8 bits in between).
    gray[i] = static_cast<float>(colour ? 0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2) : sample(0));
    if (has_alpha) alpha[i] = static_cast<float>(sample(d.channels - 1));
  }
}

// --- conversion ----------------------------------------------------------------------------------------------------

// One output sample's inputs along an axis: `count` consecutive inputs from `begin`, weighted `first`, then `middle`
// for all but the last, then `last` (the ends are the partly covered pixels of area averaging; bilinear has two).
struct Span {
  int64_t begin = 0, count = 1;
  double first = 1, middle = 0, last = 0;
};

template <class Source>
double apply(const Span& s, Source source) {
  double sum = s.first * source(s.begin);
  for (int64_t k = 1; k + 1 < s.count; ++k) sum += s.middle * source(s.begin + k);
  if (s.count > 1) sum += s.last * source(s.begin + s.count - 1);
  return sum;
}

// How `out` samples are made from `in` along one axis: area averaging (each output the mean of the input area it
// covers, edge pixels by the fraction covered) when shrinking or keeping the size, which makes same size an exact
// copy; bilinear with pixel centres aligned (as PIL's resize) when enlarging.
std::vector<Span> spans_for(int64_t in, int64_t out) {
  std::vector<Span> spans(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    Span& s = spans[static_cast<size_t>(i)];
    if (out <= in) {
      // In units of 1/out of an input pixel, output i covers [i·in, (i+1)·in), input j [j·out, (j+1)·out):
      // integer overlaps, so the weights (overlap / in) are exact and sum to 1.
      const int64_t lo = i * in, hi = (i + 1) * in;
      const int64_t j0 = lo / out, j1 = (hi + out - 1) / out;
      s.begin = j0;
      s.count = j1 - j0;
      s.first = static_cast<double>(std::min(hi, (j0 + 1) * out) - lo) / static_cast<double>(in);
      s.middle = static_cast<double>(out) / static_cast<double>(in);
      s.last = static_cast<double>(hi - std::max(lo, (j1 - 1) * out)) / static_cast<double>(in);
    } else {
      const double x =
          std::clamp((static_cast<double>(i) + 0.5) * static_cast<double>(in) / static_cast<double>(out) - 0.5, 0.0,
                     static_cast<double>(in - 1));
      const auto j0 = static_cast<int64_t>(std::floor(x));
      const double t = x - static_cast<double>(j0);
      s.begin = j0;
      s.count = j0 + 1 < in ? 2 : 1;
      s.first = s.count == 2 ? 1.0 - t : 1.0;
      s.last = t;
    }
  }
  return spans;
}

// rows × in → rows × out: resampling along each row.
template <class Source>
std::vector<float> resample_rows(Source source, int64_t rows, int64_t in, const std::vector<Span>& spans) {
  const auto out = static_cast<int64_t>(spans.size());
  std::vector<float> result(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < out; ++i)
      result[static_cast<size_t>(r * out + i)] =
          static_cast<float>(apply(spans[static_cast<size_t>(i)], [&](int64_t j) { return source(r * in + j); }));
  return result;
}

// in × cols → out × cols: resampling down the columns, a whole row at a time so memory is read in order.
template <class Source>
std::vector<float> resample_columns(Source source, int64_t cols, const std::vector<Span>& spans) {
  const auto out = static_cast<int64_t>(spans.size());
  std::vector<float> result(static_cast<size_t>(out * cols));
  std::vector<double> sum(static_cast<size_t>(cols));
  for (int64_t i = 0; i < out; ++i) {
    const Span& s = spans[static_cast<size_t>(i)];
    std::fill(sum.begin(), sum.end(), 0.0);
    for (int64_t k = 0; k < s.count; ++k) {
      const double w = k == 0 ? s.first : k + 1 == s.count ? s.last : s.middle;
      const int64_t j = s.begin + k;
      for (int64_t c = 0; c < cols; ++c) sum[static_cast<size_t>(c)] += w * source(j * cols + c);
    }
    for (int64_t c = 0; c < cols; ++c)
      result[static_cast<size_t>(i * cols + c)] = static_cast<float>(sum[static_cast<size_t>(c)]);
  }
  return result;
}

// NaN becomes 0, so no input can make the final rounding undefined.
double clamp01(double v) { return v > 0 ? (v < 1 ? v : 1) : 0; }

}  // namespace

std::vector<uint8_t> to_fashion_mnist_pixels(const std::vector<float>& gray, const std::vector<float>& alpha,
                                             int64_t width, int64_t height, const PictureOptions& options) {
  if (width <= 0 || height <= 0)
    throw UsageError("picture conversion: width and height must be positive, got " + std::to_string(width) + " x " +
                     std::to_string(height));
  if (width > std::numeric_limits<int64_t>::max() / height)
    throw UsageError("picture conversion: " + std::to_string(width) + " x " + std::to_string(height) + " is too large");
  const auto n = static_cast<uint64_t>(width * height);
  if (gray.size() != n)
    throw UsageError("picture conversion: " + std::to_string(gray.size()) + " gray values for a " +
                     std::to_string(width) + " x " + std::to_string(height) + " picture (" + std::to_string(n) +
                     " needed)");
  if (!alpha.empty() && alpha.size() != n)
    throw UsageError("picture conversion: " + std::to_string(alpha.size()) + " alpha values for a " +
                     std::to_string(width) + " x " + std::to_string(height) + " picture (" + std::to_string(n) +
                     " needed, or none)");

  // Composited over the background that ends up black, then inverted if asked: a·v + (1 − a)·0 without inversion,
  // 1 − (a·v + (1 − a)·1) = a·(1 − v) with it. Done as the first resampling pass reads, so the full-size picture
  // is never copied.
  const bool invert = options.invert;
  auto composite = [&](int64_t i) {
    const double v = clamp01(gray[static_cast<size_t>(i)]);
    const double a = alpha.empty() ? 1.0 : clamp01(alpha[static_cast<size_t>(i)]);
    return a * (invert ? 1.0 - v : v);
  };

  // The longer side becomes 28, the shorter round(side·28/longer) (halves up, in integers) and at least 1.
  const int64_t longer = std::max(width, height);
  auto scaled = [&](int64_t side) {
    return side == longer ? kPictureSide : std::max<int64_t>(1, (2 * side * kPictureSide + longer) / (2 * longer));
  };
  const int64_t out_w = scaled(width), out_h = scaled(height);
  const std::vector<Span> x_spans = spans_for(width, out_w), y_spans = spans_for(height, out_h);

  // The two passes are separable; doing first the one that leaves less in between bounds the memory by the
  // picture's longer side times 28, however thin the picture.
  std::vector<float> scaled_picture;
  if (static_cast<uint64_t>(height) * static_cast<uint64_t>(out_w) <=
      static_cast<uint64_t>(out_h) * static_cast<uint64_t>(width)) {
    const std::vector<float> narrow = resample_rows(composite, height, width, x_spans);
    scaled_picture = resample_columns([&](int64_t i) { return narrow[static_cast<size_t>(i)]; }, out_w, y_spans);
  } else {
    const std::vector<float> low = resample_columns(composite, width, y_spans);
    scaled_picture = resample_rows([&](int64_t i) { return low[static_cast<size_t>(i)]; }, out_h, width, x_spans);
  }

  std::vector<uint8_t> canvas(static_cast<size_t>(kPictureSide * kPictureSide), 0);
  const int64_t x0 = (kPictureSide - out_w) / 2, y0 = (kPictureSide - out_h) / 2;
  for (int64_t y = 0; y < out_h; ++y)
    for (int64_t x = 0; x < out_w; ++x)
      canvas[static_cast<size_t>((y0 + y) * kPictureSide + x0 + x)] =
          static_cast<uint8_t>(std::lround(clamp01(scaled_picture[static_cast<size_t>(y * out_w + x)]) * 255.0));
  return canvas;
}

Tensor read_picture(const std::string& path, const PictureOptions& options) {
  const std::string prefix = "picture '" + one_line(path) + "': ";
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw UsageError(prefix + "no such file");
  if (std::filesystem::is_directory(status)) throw UsageError(prefix + "is a directory, not a PNG file");
  if (!std::filesystem::is_regular_file(status)) throw UsageError(prefix + "not a regular file");

  errno = 0;
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw UsageError(prefix + "cannot open: " + (errno ? std::strerror(errno) : "unknown error"));

  unsigned char signature[kPngSignatureBytes] = {};
  errno = 0;
  const size_t got = std::fread(signature, 1, sizeof signature, file.get());
  if (got < sizeof signature && std::ferror(file.get()))
    throw Error(prefix + "cannot read: " + (errno ? std::strerror(errno) : "I/O error"));
  // A file shorter than the signature that starts like one is a PNG cut short, not some other kind of file.
  if (got == 0 || png_sig_cmp(signature, 0, got) != 0) throw Error(prefix + "not a PNG file (loom reads PNG pictures)");
  if (got < sizeof signature) throw Error(prefix + "truncated: the file ends before the PNG does");

  PngDecode decode;
  decode.file = file.get();
  const bool ok = decode_png(&decode);
  std::unique_ptr<unsigned char, MallocFree> pixels(decode.pixels);
  if (!ok) {
    switch (decode.failure) {
      case Failure::Truncated:
        throw Error(prefix + "truncated: the file ends before the PNG does");
      case Failure::ReadError:
        throw Error(prefix + "cannot read: " + (decode.read_errno ? std::strerror(decode.read_errno) : "I/O error"));
      case Failure::TooLarge:
        throw Error(prefix + "too large: " + std::to_string(decode.width) + " x " + std::to_string(decode.height) +
                    " pixels (loom reads at most " + std::to_string(kMaxPicturePixels) + ")");
      case Failure::OutOfMemory:
        throw Error(prefix + "out of memory decoding the PNG");
      default:
        throw Error(prefix + "corrupt PNG: " + one_line(decode.message));
    }
  }

  std::vector<float> gray, alpha;
  decoded_to_gray(decode, gray, alpha);
  pixels.reset();  // the raw samples are no longer needed; the conversion may be large too
  const std::vector<uint8_t> canvas = to_fashion_mnist_pixels(gray, alpha, static_cast<int64_t>(decode.width),
                                                              static_cast<int64_t>(decode.height), options);
  Tensor picture({kPictureSide, kPictureSide}, Device::CPU, DType::U8);
  std::memcpy(picture.data<uint8_t>(), canvas.data(), canvas.size());
  return picture;
}

}  // namespace loom
