#include "engine/data/picture_file.h"

#include <png.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

#include "engine/io/file_text.h"
#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

// libpng's own default limit on each side (PNG_USER_WIDTH_MAX and PNG_USER_HEIGHT_MAX). Non-interlaced pictures are
// decoded a row at a time into the scaler below, so their memory grows with the width only (about 40 bytes a
// column: the row, its values, the scaler's sums), and a side this long costs some tens of MB.
constexpr png_uint_32 kMaxPictureSide = 1000000;
// An interlaced (Adam7) picture comes in seven passes over the whole picture, so it is decoded whole first, up to 8
// bytes a pixel (16-bit RGBA). This keeps one within 128 MiB (the fuzzer found that allowing 2^26 pixels, when every
// picture was decoded whole, let a run of large pictures take over 2 GiB); 16.7 million pixels hold a 12-megapixel
// photo.
constexpr uint64_t kMaxInterlacedPixels = uint64_t{1} << 24;
constexpr size_t kPngSignatureBytes = 8;

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

// NaN becomes 0, so no input can make the final rounding undefined.
double clamp01(double v) { return v > 0 ? (v < 1 ? v : 1) : 0; }

// One pixel over the background that ends up black, then inverted if asked: a·v + (1 − a)·0 without inversion,
// 1 − (a·v + (1 − a)·1) = a·(1 − v) with it. Gray and alpha arrive as floats whichever way the picture came.
double composited(float gray, float alpha, bool invert) {
  const double v = clamp01(gray);
  return clamp01(alpha) * (invert ? 1.0 - v : v);
}

// The picture scaled to fit 28 × 28, fed one row at a time, top to bottom, so that no more than a row of it is ever
// held: the longer side becomes 28, the shorter round(side·28/longer) (halves up, in integers) and at least 1. The
// two passes are separable, and the one that leaves less in between goes first: along the rows (each row narrowed
// to the output's width as it arrives, then summed into the output rows it falls in), or down the columns (each row
// summed at full width into the few output rows it falls in, each output row narrowed once complete). Either way
// every sum adds the same products in the same order as resampling a whole picture held in memory would.
class PictureScaler {
 public:
  PictureScaler(int64_t width, int64_t height) : width_(width), height_(height) {
    const int64_t longer = std::max(width, height);
    auto scaled = [&](int64_t side) {
      return side == longer ? kPictureSide : std::max<int64_t>(1, (2 * side * kPictureSide + longer) / (2 * longer));
    };
    out_w_ = scaled(width);
    out_h_ = scaled(height);
    x_spans_ = spans_for(width, out_w_);
    y_spans_ = spans_for(height, out_h_);
    rows_first_ = static_cast<uint64_t>(height) * static_cast<uint64_t>(out_w_) <=
                  static_cast<uint64_t>(out_h_) * static_cast<uint64_t>(width);
    row_.resize(static_cast<size_t>(width));
    scaled_.resize(static_cast<size_t>(out_h_ * out_w_));
    if (rows_first_) {
      narrow_.resize(static_cast<size_t>(out_w_));
      sums_.assign(static_cast<size_t>(out_h_ * out_w_), 0.0);
    } else {
      // Output rows summed at once: those whose spans share an input row (2 when shrinking), kept in a ring.
      for (const Span& s : y_spans_) {
        int64_t open = 0;
        for (const Span& t : y_spans_) open += t.begin <= s.begin && s.begin < t.begin + t.count;
        ring_ = std::max(ring_, open);
      }
      sums_.resize(static_cast<size_t>(ring_ * width));
      low_.resize(static_cast<size_t>(width));
    }
  }

  // Where the next row's `width` values (composited, in [0, 1]) go before add_row().
  double* row() { return row_.data(); }

  // Takes in the row in row(). Allocates nothing and cannot throw: the PNG decoder calls it between libpng's setjmp
  // and longjmp.
  void add_row() noexcept {
    const int64_t r = next_row_++;
    if (rows_first_) {
      bool used = false;
      for (int64_t o = 0; o < out_h_; ++o) {
        const Span& s = y_spans_[static_cast<size_t>(o)];
        if (r < s.begin || r >= s.begin + s.count) continue;
        if (!used) {
          for (int64_t i = 0; i < out_w_; ++i)
            narrow_[static_cast<size_t>(i)] = static_cast<float>(
                apply(x_spans_[static_cast<size_t>(i)], [&](int64_t j) { return row_[static_cast<size_t>(j)]; }));
          used = true;
        }
        const double w = weight(s, r);
        double* sum = &sums_[static_cast<size_t>(o * out_w_)];
        for (int64_t i = 0; i < out_w_; ++i) sum[i] += w * narrow_[static_cast<size_t>(i)];
      }
      if (r + 1 == height_)
        for (size_t k = 0; k < sums_.size(); ++k) scaled_[k] = static_cast<float>(sums_[k]);
      return;
    }
    for (int64_t o = 0; o < out_h_; ++o) {
      const Span& s = y_spans_[static_cast<size_t>(o)];
      if (r < s.begin || r >= s.begin + s.count) continue;
      double* sum = &sums_[static_cast<size_t>((o % ring_) * width_)];
      if (r == s.begin) std::fill(sum, sum + width_, 0.0);
      const double w = weight(s, r);
      for (int64_t c = 0; c < width_; ++c) sum[c] += w * row_[static_cast<size_t>(c)];
      if (r + 1 < s.begin + s.count) continue;
      // The output row is complete: narrowed now, as a whole picture's second pass would narrow it.
      for (int64_t c = 0; c < width_; ++c) low_[static_cast<size_t>(c)] = static_cast<float>(sum[c]);
      for (int64_t i = 0; i < out_w_; ++i)
        scaled_[static_cast<size_t>(o * out_w_ + i)] = static_cast<float>(
            apply(x_spans_[static_cast<size_t>(i)], [&](int64_t j) { return low_[static_cast<size_t>(j)]; }));
    }
  }

  // The 28 × 28 sample, once every row was added: the scaled picture centred on black (offset floor((28 − side)/2)),
  // values rounded to 0..255.
  std::vector<uint8_t> canvas() const {
    std::vector<uint8_t> canvas(static_cast<size_t>(kPictureSide * kPictureSide), 0);
    const int64_t x0 = (kPictureSide - out_w_) / 2, y0 = (kPictureSide - out_h_) / 2;
    for (int64_t y = 0; y < out_h_; ++y)
      for (int64_t x = 0; x < out_w_; ++x)
        canvas[static_cast<size_t>((y0 + y) * kPictureSide + x0 + x)] =
            static_cast<uint8_t>(std::lround(clamp01(scaled_[static_cast<size_t>(y * out_w_ + x)]) * 255.0));
    return canvas;
  }

 private:
  // Input row r's weight in an output row's span (which holds r).
  static double weight(const Span& s, int64_t r) {
    const int64_t k = r - s.begin;
    return k == 0 ? s.first : k + 1 == s.count ? s.last : s.middle;
  }

  int64_t width_, height_, out_w_ = 0, out_h_ = 0;
  std::vector<Span> x_spans_, y_spans_;
  bool rows_first_ = true;
  int64_t next_row_ = 0;
  int64_t ring_ = 0;
  std::vector<double> row_;
  std::vector<float> narrow_;  // rows first: the current row at the output's width
  std::vector<double> sums_;   // rows first: every output row at the output's width; else the ring at full width
  std::vector<float> low_;     // columns first: a complete output row at full width
  std::vector<float> scaled_;  // out_h × out_w
};

// --- decoding ------------------------------------------------------------------------------------------------------
//
// libpng reports errors by longjmp back to a setjmp. Jumping over a C++ destructor is undefined behaviour, so the
// decoder is C-style: the functions that call setjmp own no object with a destructor, the callbacks libpng runs
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
  // After png_start: each pixel `channels` samples (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of `bit_depth` 8 or 16
  // bits (16-bit samples big-endian, as PNG has them), `row_bytes` a row.
  png_uint_32 width = 0, height = 0;
  bool interlaced = false;
  int channels = 0;
  int bit_depth = 0;
  size_t row_bytes = 0;
  // For png_rows, made by the caller: where a row is decoded, the scaler it goes to, and --invert.
  unsigned char* row = nullptr;
  PictureScaler* scaler = nullptr;
  bool invert = false;
  // An interlaced picture, decoded whole (malloc'd, freed by png_rows).
  png_bytep* rows = nullptr;
  unsigned char* pixels = nullptr;
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

void free_png(PngDecode* d) {
  if (d->png) png_destroy_read_struct(&d->png, &d->info, nullptr);
  d->png = nullptr;
  d->info = nullptr;
  std::free(d->rows);
  std::free(d->pixels);
  d->rows = nullptr;
  d->pixels = nullptr;
}

// Reads the header and sets the conversion up; false (with d->failure set and everything freed) on any failure.
bool png_start(PngDecode* d) {
  d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, on_png_error, on_png_warning);
  if (!d->png) {
    d->failure = Failure::OutOfMemory;
    return false;
  }
  d->info = png_create_info_struct(d->png);
  if (!d->info) {
    free_png(d);
    d->failure = Failure::OutOfMemory;
    return false;
  }
  if (setjmp(png_jmpbuf(d->png))) {
    free_png(d);
    return false;
  }
  png_set_read_fn(d->png, d, read_png_bytes);
  png_set_sig_bytes(d->png, static_cast<int>(kPngSignatureBytes));
  // The limits are loom's own, checked below, so that a picture over them is called too large, not corrupt.
  png_set_user_limits(d->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_read_info(d->png, d->info);

  d->width = png_get_image_width(d->png, d->info);
  d->height = png_get_image_height(d->png, d->info);
  d->interlaced = png_get_interlace_type(d->png, d->info) != PNG_INTERLACE_NONE;
  // Before anything is allocated for the pixels (png_read_info has read only IHDR and the small chunks before the
  // image data): the header alone must not be able to make us reserve gigabytes.
  if (d->width > kMaxPictureSide || d->height > kMaxPictureSide ||
      (d->interlaced && uint64_t{d->width} * d->height > kMaxInterlacedPixels)) {
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
  return true;
}

// One decoded row into the scaler: gray by luma with ITU-R 601 weights, as PIL's convert('L') does (without its
// rounding to 8 bits in between), alpha if the picture has it.
void add_png_row(const PngDecode* d, const unsigned char* row) noexcept {
  const bool has_alpha = d->channels == 2 || d->channels == 4;
  const bool colour = d->channels >= 3;
  const bool wide = d->bit_depth == 16;
  const double full = wide ? 65535.0 : 255.0;
  const size_t pixel_bytes = static_cast<size_t>(d->channels * d->bit_depth / 8);
  double* out = d->scaler->row();
  for (size_t x = 0; x < d->width; ++x) {
    const unsigned char* p = row + x * pixel_bytes;
    auto sample = [&](int c) { return wide ? ((p[2 * c] << 8) | p[2 * c + 1]) / full : p[c] / full; };
    const auto gray =
        static_cast<float>(colour ? 0.299 * sample(0) + 0.587 * sample(1) + 0.114 * sample(2) : sample(0));
    const auto alpha = has_alpha ? static_cast<float>(sample(d->channels - 1)) : 1.0f;
    out[x] = composited(gray, alpha, d->invert);
  }
  d->scaler->add_row();
}

// Decodes the image data into d->scaler and reads on to IEND, so a file cut anywhere, even after the image data, is
// reported rather than half-read; false (with d->failure set) on any failure. Frees libpng's state either way.
bool png_rows(PngDecode* d) {
  if (setjmp(png_jmpbuf(d->png))) {
    free_png(d);
    return false;
  }
  if (d->interlaced) {
    d->pixels = static_cast<unsigned char*>(std::malloc(d->row_bytes * d->height));
    d->rows = static_cast<png_bytep*>(std::malloc(sizeof(png_bytep) * d->height));
    if (!d->pixels || !d->rows) {
      d->failure = Failure::OutOfMemory;
      png_error(d->png, "out of memory");
    }
    for (png_uint_32 y = 0; y < d->height; ++y) d->rows[y] = d->pixels + d->row_bytes * y;
    png_read_image(d->png, d->rows);
    for (png_uint_32 y = 0; y < d->height; ++y) add_png_row(d, d->rows[y]);
  } else {
    for (png_uint_32 y = 0; y < d->height; ++y) {
      png_read_row(d->png, d->row, nullptr);
      add_png_row(d, d->row);
    }
  }
  png_read_end(d->png, nullptr);
  free_png(d);
  return true;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
// libpng's state, freed however the reading ends (png_start and png_rows free it themselves when they fail).
struct PngFreer {
  PngDecode* d;
  ~PngFreer() { free_png(d); }
};

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
  PictureScaler scaler(width, height);
  for (int64_t y = 0; y < height; ++y) {
    double* row = scaler.row();
    for (int64_t x = 0; x < width; ++x) {
      const auto i = static_cast<size_t>(y * width + x);
      row[x] = composited(gray[i], alpha.empty() ? 1.0f : alpha[i], options.invert);
    }
    scaler.add_row();
  }
  return scaler.canvas();
}

Tensor read_picture(const std::string& path, const PictureOptions& options) {
  const std::string label = "picture '" + one_line(path) + "'", prefix = label + ": ";
  InputFile input(path, label);
  std::unique_ptr<std::FILE, FileCloser> file(::fdopen(input.fd(), "rb"));
  if (!file) input.fail_read(errno);
  input.release();

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
  decode.invert = options.invert;
  bool ok = png_start(&decode);
  std::optional<PictureScaler> scaler;
  std::vector<unsigned char> row;
  if (ok) {
    const PngFreer freer{&decode};  // libpng's state, should the buffers below not be had
    scaler.emplace(static_cast<int64_t>(decode.width), static_cast<int64_t>(decode.height));
    if (!decode.interlaced) row.resize(decode.row_bytes);
    decode.scaler = &*scaler;
    decode.row = row.data();
    ok = png_rows(&decode);
  }
  if (!ok) {
    switch (decode.failure) {
      case Failure::Truncated:
        throw Error(prefix + "truncated: the file ends before the PNG does");
      case Failure::ReadError:
        throw Error(prefix + "cannot read: " + (decode.read_errno ? std::strerror(decode.read_errno) : "I/O error"));
      case Failure::TooLarge:
        if (decode.width > kMaxPictureSide || decode.height > kMaxPictureSide)
          throw Error(prefix + "too large: " + std::to_string(decode.width) + " x " + std::to_string(decode.height) +
                      " pixels (loom reads at most " + std::to_string(kMaxPictureSide) + " pixels a side)");
        throw Error(prefix + "too large: " + std::to_string(decode.width) + " x " + std::to_string(decode.height) +
                    " pixels, interlaced (loom holds an interlaced PNG whole, and reads one of at most " +
                    std::to_string(kMaxInterlacedPixels) + " pixels; save it without interlacing)");
      case Failure::OutOfMemory:
        throw Error(prefix + "out of memory decoding the PNG");
      default:
        throw Error(prefix + "corrupt PNG: " + one_line(decode.message));
    }
  }

  const std::vector<uint8_t> canvas = scaler->canvas();
  Tensor picture({kPictureSide, kPictureSide}, Device::CPU, DType::U8);
  std::memcpy(picture.data<uint8_t>(), canvas.data(), canvas.size());
  return picture;
}

}  // namespace loom
