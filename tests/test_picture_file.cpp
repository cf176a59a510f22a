// Pictures for predict: PNGs of every kind (gray, RGB, RGBA, palette, 1 and 16 bits, interlaced) written here with
// libpng and read back as Fashion-MNIST samples, the conversion's arithmetic (luma, compositing, inversion, area
// averaging, bilinear enlargement, centring) checked pixel by pixel, and every kind of bad file reported as one line
// naming it, with the error type that sets the app's exit code.
#include <gtest/gtest.h>
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csetjmp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/data/picture_file.h"
#include "engine/runtime/errors.h"
#include "test_support.h"

namespace {

using Bytes = std::vector<uint8_t>;
constexpr int kSide = 28;

// --- writing test PNGs ---------------------------------------------------------------------------------------------

struct PngSpec {
  uint32_t width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_GRAY;
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<png_color> palette;  // PNG_COLOR_TYPE_PALETTE only
  Bytes palette_alpha;             // tRNS for a palette; empty for none
  Bytes packed;                    // height rows as PNG stores them (packed bits, 16-bit big-endian)
};

int channels_of(int color_type) {
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      return 2;
    case PNG_COLOR_TYPE_RGB:
      return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA:
      return 4;
    default:
      return 1;
  }
}

size_t row_bytes(const PngSpec& spec) {
  return (size_t{spec.width} * static_cast<size_t>(channels_of(spec.color_type) * spec.bit_depth) + 7) / 8;
}

// Samples (one per channel per pixel, row-major) packed into PNG rows of `bit_depth` bits.
Bytes pack(const std::vector<uint32_t>& samples, uint32_t width, uint32_t height, int channels, int bit_depth) {
  const size_t per_row = size_t{width} * static_cast<size_t>(channels);
  const size_t row = (per_row * static_cast<size_t>(bit_depth) + 7) / 8;
  Bytes out(row * height, 0);
  for (uint32_t y = 0; y < height; ++y) {
    uint8_t* dst = out.data() + row * y;
    for (size_t k = 0; k < per_row; ++k) {
      const uint32_t v = samples[y * per_row + k];
      if (bit_depth == 16) {
        dst[2 * k] = static_cast<uint8_t>(v >> 8);
        dst[2 * k + 1] = static_cast<uint8_t>(v);
      } else if (bit_depth == 8) {
        dst[k] = static_cast<uint8_t>(v);
      } else {
        const size_t bit = k * static_cast<size_t>(bit_depth);
        dst[bit / 8] |= static_cast<uint8_t>(v << (8 - bit_depth - bit % 8));
      }
    }
  }
  return out;
}

// C-style because libpng reports errors by longjmp: nothing with a destructor lives in this frame.
bool write_png_to(std::FILE* file, const PngSpec* spec, png_bytep* rows) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, spec->width, spec->height, spec->bit_depth, spec->color_type,
               spec->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (!spec->palette.empty()) png_set_PLTE(png, info, spec->palette.data(), static_cast<int>(spec->palette.size()));
  if (!spec->palette_alpha.empty())
    png_set_tRNS(png, info, spec->palette_alpha.data(), static_cast<int>(spec->palette_alpha.size()), nullptr);
  png_write_info(png, info);
  png_set_interlace_handling(png);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

void write_png(const std::string& path, PngSpec spec) {
  ASSERT_EQ(spec.packed.size(), row_bytes(spec) * spec.height) << "test bug: packed size";
  std::vector<png_bytep> rows(spec.height);
  for (uint32_t y = 0; y < spec.height; ++y) rows[y] = spec.packed.data() + row_bytes(spec) * y;
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << "cannot create " << path;
  const bool ok = write_png_to(file, &spec, rows.data());
  ASSERT_EQ(std::fclose(file), 0);
  ASSERT_TRUE(ok) << "libpng refused to write " << path;
}

PngSpec gray8(uint32_t width, uint32_t height, const Bytes& values) {
  PngSpec spec;
  spec.width = width;
  spec.height = height;
  spec.packed = values;
  return spec;
}

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "could not write " << path;
}

// Offset of the first chunk of `type` (its length field), or 0 when absent.
size_t find_chunk(const Bytes& png, const char* type) {
  for (size_t at = 8; at + 12 <= png.size();) {
    const uint32_t length =
        (uint32_t{png[at]} << 24) | (uint32_t{png[at + 1]} << 16) | (uint32_t{png[at + 2]} << 8) | png[at + 3];
    if (std::memcmp(png.data() + at + 4, type, 4) == 0) return at;
    at += 12 + length;
  }
  return 0;
}

void append_u32_be(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// A chunk with a correct CRC, so only its contents are wrong.
void append_chunk(Bytes& out, const char* type, const Bytes& data) {
  append_u32_be(out, static_cast<uint32_t>(data.size()));
  Bytes typed(type, type + 4);
  typed.insert(typed.end(), data.begin(), data.end());
  out.insert(out.end(), typed.begin(), typed.end());
  append_u32_be(out, static_cast<uint32_t>(crc32(0, typed.data(), static_cast<uInt>(typed.size()))));
}

Bytes signature() { return {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}; }

Bytes ihdr(uint32_t width, uint32_t height, uint8_t bit_depth, uint8_t color_type, uint8_t interlace = 0) {
  Bytes data;
  append_u32_be(data, width);
  append_u32_be(data, height);
  data.insert(data.end(), {bit_depth, color_type, 0, 0, interlace});
  return data;
}

// Varied bytes covering the whole range: (i·37 + 11) mod 256.
Bytes pattern(size_t n) {
  Bytes out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  return out;
}

std::vector<uint8_t> pixels_of(const loom::Tensor& t) {
  EXPECT_EQ(t.shape(), (loom::Shape{kSide, kSide}));
  EXPECT_EQ(t.dtype(), loom::DType::U8);
  EXPECT_EQ(t.device(), loom::Device::CPU);
  const uint8_t* p = t.data<uint8_t>();
  return std::vector<uint8_t>(p, p + t.numel());
}

uint8_t at(const std::vector<uint8_t>& pixels, int x, int y) { return pixels[static_cast<size_t>(y * kSide + x)]; }

int luma(int r, int g, int b) { return static_cast<int>(std::lround(0.299 * r + 0.587 * g + 0.114 * b)); }

class PictureFile : public loom::test::TempDirTest {};

// --- decoding every kind of PNG ------------------------------------------------------------------------------------

TEST_F(PictureFile, Gray28x28RoundTripsExactly) {
  const Bytes values = pattern(kSide * kSide);
  write_png(path("gray.png"), gray8(kSide, kSide, values));
  EXPECT_EQ(pixels_of(loom::read_picture(path("gray.png"))), values);

  Bytes inverted(values.size());
  for (size_t i = 0; i < values.size(); ++i) inverted[i] = static_cast<uint8_t>(255 - values[i]);
  EXPECT_EQ(pixels_of(loom::read_picture(path("gray.png"), {/*invert=*/true})), inverted);
}

TEST_F(PictureFile, RgbBecomesGrayByLumaWeights) {
  // Rows of solid colours: pure red, green and blue tell luma from a plain mean (85 for each).
  const std::vector<std::array<int, 3>> colours = {{255, 0, 0},  {0, 255, 0},    {0, 0, 255},  {255, 255, 255},
                                                   {10, 20, 30}, {200, 100, 50}, {13, 250, 77}};
  std::vector<uint32_t> samples;
  std::vector<int> expected;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const auto& c = colours[static_cast<size_t>((x + y) % static_cast<int>(colours.size()))];
      samples.insert(samples.end(), {uint32_t(c[0]), uint32_t(c[1]), uint32_t(c[2])});
      const double exact = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
      ASSERT_GT(std::abs(exact - std::floor(exact) - 0.5), 0.01) << "test colours must not round on a tie";
      expected.push_back(luma(c[0], c[1], c[2]));
    }
  PngSpec spec;
  spec.width = spec.height = kSide;
  spec.color_type = PNG_COLOR_TYPE_RGB;
  spec.packed = pack(samples, kSide, kSide, 3, 8);
  write_png(path("rgb.png"), spec);

  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("rgb.png")));
  for (int i = 0; i < kSide * kSide; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], expected[static_cast<size_t>(i)]) << i;
  EXPECT_EQ(at(got, 0, 0), 76);   // red: 0.299·255
  EXPECT_EQ(at(got, 1, 0), 150);  // green: 0.587·255
  EXPECT_EQ(at(got, 2, 0), 29);   // blue: 0.114·255
  EXPECT_EQ(at(got, 3, 0), 255);
}

TEST_F(PictureFile, TransparentPartsBecomeBlackBackgroundWithAndWithoutInversion) {
  // Columns 0-9 opaque gray 200, 10-19 half-transparent (alpha 128) gray 200, 20-27 fully transparent white.
  std::vector<uint32_t> samples;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      if (x < 10)
        samples.insert(samples.end(), {200, 200, 200, 255});
      else if (x < 20)
        samples.insert(samples.end(), {200, 200, 200, 128});
      else
        samples.insert(samples.end(), {255, 255, 255, 0});
    }
  PngSpec spec;
  spec.width = spec.height = kSide;
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.packed = pack(samples, kSide, kSide, 4, 8);
  write_png(path("rgba.png"), spec);

  const std::vector<uint8_t> plain = pixels_of(loom::read_picture(path("rgba.png")));
  const std::vector<uint8_t> inverted = pixels_of(loom::read_picture(path("rgba.png"), {true}));
  for (int y = 0; y < kSide; ++y) {
    EXPECT_EQ(at(plain, 5, y), 200);
    EXPECT_EQ(at(plain, 15, y), 100);  // 200·128/255 = 100.4 over black
    EXPECT_EQ(at(plain, 25, y), 0);    // white, but transparent
    EXPECT_EQ(at(inverted, 5, y), 55);
    EXPECT_EQ(at(inverted, 15, y), 28);  // over white: 1 − (200/255·128/255 + 127/255) = 55·128/255² → 27.6
    EXPECT_EQ(at(inverted, 25, y), 0);   // transparent is background, black after inversion too
  }
}

TEST_F(PictureFile, PaletteWithTransparencyExpands) {
  // A 2-bit palette (four pixels a byte): black, red, white, and a white entry made transparent by tRNS.
  PngSpec spec;
  spec.width = spec.height = kSide;
  spec.color_type = PNG_COLOR_TYPE_PALETTE;
  spec.bit_depth = 2;
  spec.palette = {{0, 0, 0}, {255, 0, 0}, {255, 255, 255}, {255, 255, 255}};
  spec.palette_alpha = {255, 255, 255, 0};
  std::vector<uint32_t> indices;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) indices.push_back(static_cast<uint32_t>((x + 2 * y) % 4));
  spec.packed = pack(indices, kSide, kSide, 1, 2);
  write_png(path("palette.png"), spec);

  const uint8_t expected[4] = {0, 76, 255, 0};
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("palette.png")));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[indices[i]]) << i;
}

TEST_F(PictureFile, SixteenBitKeepsItsPrecision) {
  // 16-bit gray b·257 + 128 is b + 0.498 in 8-bit terms: rounds to b only if the low byte is used, not dropped.
  // Every other pixel is b·257 + 200 (b + 0.778), which rounds up, so dropping the low byte would fail there.
  const Bytes base = pattern(kSide * kSide);
  std::vector<uint32_t> samples;
  std::vector<uint8_t> expected;
  for (size_t i = 0; i < base.size(); ++i) {
    const uint32_t b = std::min<uint32_t>(base[i], 254);
    samples.push_back(b * 257 + (i % 2 ? 200 : 128));
    expected.push_back(static_cast<uint8_t>(i % 2 ? b + 1 : b));
  }
  PngSpec spec;
  spec.width = spec.height = kSide;
  spec.bit_depth = 16;
  spec.packed = pack(samples, kSide, kSide, 1, 16);
  write_png(path("gray16.png"), spec);
  EXPECT_EQ(pixels_of(loom::read_picture(path("gray16.png"))), expected);

  // 16-bit RGBA too: opaque pixels by luma, transparent ones black.
  std::vector<uint32_t> rgba;
  for (int i = 0; i < kSide * kSide; ++i) rgba.insert(rgba.end(), {65535, 0, 0, i % 2 ? 0u : 65535u});
  spec.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  spec.packed = pack(rgba, kSide, kSide, 4, 16);
  write_png(path("rgba16.png"), spec);
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("rgba16.png")));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], i % 2 ? 0 : 76) << i;
}

TEST_F(PictureFile, OneBitGrayBecomesBlackAndWhite) {
  std::vector<uint32_t> bits;
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) bits.push_back(static_cast<uint32_t>((x / 3 + y) % 2));
  PngSpec spec;
  spec.width = spec.height = kSide;
  spec.bit_depth = 1;
  spec.packed = pack(bits, kSide, kSide, 1, 1);
  write_png(path("bits.png"), spec);
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("bits.png")));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], bits[i] ? 255 : 0) << i;
}

TEST_F(PictureFile, InterlacedReadsLikeTheSamePictureUninterlaced) {
  const Bytes values = pattern(kSide * kSide);
  PngSpec spec = gray8(kSide, kSide, values);
  spec.interlaced = true;
  write_png(path("adam7.png"), spec);
  ASSERT_EQ(read_file(path("adam7.png"))[8 + 8 + 12], 1) << "the file should declare Adam7 interlacing";
  EXPECT_EQ(pixels_of(loom::read_picture(path("adam7.png"))), values);

  // Interlaced colour with an odd size (passes of uneven widths), scaled afterwards.
  std::vector<uint32_t> samples;
  for (int i = 0; i < 13 * 13; ++i) samples.insert(samples.end(), {90, 90, 90});
  PngSpec odd;
  odd.width = odd.height = 13;
  odd.color_type = PNG_COLOR_TYPE_RGB;
  odd.interlaced = true;
  odd.packed = pack(samples, 13, 13, 3, 8);
  write_png(path("odd.png"), odd);
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("odd.png")));
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], 90) << i;
}

// --- scaling and centring ------------------------------------------------------------------------------------------

TEST_F(PictureFile, WidePictureIsHalvedByAreaAveragingAndCentredVertically) {
  // 56×28: each 2×2 block (bx, by) holds base+1, base+40, base+80, base+120 with base = (5·bx + 3·by) mod 130, so
  // its mean is base + 60.25, which rounds to base + 60.
  Bytes values(56 * 28);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 56; ++x) {
      const int base = (5 * (x / 2) + 3 * (y / 2)) % 130;
      const int offset[2][2] = {{1, 40}, {80, 120}};
      values[static_cast<size_t>(y * 56 + x)] = static_cast<uint8_t>(base + offset[y % 2][x % 2]);
    }
  write_png(path("wide.png"), gray8(56, 28, values));
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("wide.png")));
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const bool content = y >= 7 && y < 21;  // 14 rows, offset floor((28 − 14) / 2) = 7
      const int expected = content ? (5 * x + 3 * (y - 7)) % 130 + 60 : 0;
      ASSERT_EQ(at(got, x, y), expected) << "x " << x << " y " << y;
    }
}

TEST(PictureConversion, AreaAveragingWeighsPartlyCoveredPixels) {
  // 42 → 28 is a step of 1.5 input pixels: output 0 covers input 0 and half of 1, output 1 the other half of 1 and
  // input 2, output 2 input 3 and half of 4. Columns alternate 1, 0, 1, 0, ...
  std::vector<float> gray(42 * 42);
  for (int y = 0; y < 42; ++y)
    for (int x = 0; x < 42; ++x) gray[static_cast<size_t>(y * 42 + x)] = x % 2 ? 0.f : 1.f;
  const std::vector<uint8_t> got = loom::to_fashion_mnist_pixels(gray, {}, 42, 42);
  for (int y = 0; y < kSide; ++y) {
    EXPECT_EQ(at(got, 0, y), 170);  // (1 + 0.5·0) / 1.5 = 2/3
    EXPECT_EQ(at(got, 1, y), 170);  // (0.5·0 + 1) / 1.5
    EXPECT_EQ(at(got, 2, y), 85);   // (0 + 0.5·1) / 1.5 = 1/3
  }
}

TEST_F(PictureFile, TinyPictureIsEnlargedBilinearly) {
  // 7×7 horizontal ramp 0, 40, ..., 240 enlarged 4×: output column i samples input x = i/4 − 3/8 (pixel centres
  // aligned), clamped to [0, 6] at the edges, so interior columns are 40·(i/4 − 3/8) = 10·i − 15.
  Bytes values(7 * 7);
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 7; ++x) values[static_cast<size_t>(y * 7 + x)] = static_cast<uint8_t>(40 * x);
  write_png(path("tiny.png"), gray8(7, 7, values));
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("tiny.png")));
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const int expected = x < 2 ? 0 : x > 25 ? 240 : 10 * x - 15;
      ASSERT_EQ(at(got, x, y), expected) << "x " << x << " y " << y;
    }

  // And vertically: a 7-wide, 14-tall picture becomes 14×28, centred horizontally at columns 7..20.
  std::vector<float> gray(7 * 14, 1.f);
  const std::vector<uint8_t> tall = loom::to_fashion_mnist_pixels(gray, {}, 7, 14);
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) ASSERT_EQ(at(tall, x, y), x >= 7 && x < 21 ? 255 : 0) << x << "," << y;
}

TEST(PictureConversion, ThinPicturesKeepAtLeastOnePixel) {
  // 100×3 → 28 × round(0.84) = 28×1 at row floor(27/2) = 13.
  const std::vector<uint8_t> got = loom::to_fashion_mnist_pixels(std::vector<float>(300, 1.f), {}, 100, 3);
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) ASSERT_EQ(at(got, x, y), y == 13 ? 255 : 0) << x << "," << y;
  // 1×1 becomes a full 28×28 square.
  const std::vector<uint8_t> dot = loom::to_fashion_mnist_pixels({0.5f}, {}, 1, 1);
  for (uint8_t v : dot) ASSERT_EQ(v, 128);
}

TEST_F(PictureFile, InvertTurnsAWhiteBackgroundBlack) {
  // A product photo: white background, a dark gray (60) square in the middle.
  Bytes values(40 * 40, 255);
  for (int y = 10; y < 30; ++y)
    for (int x = 10; x < 30; ++x) values[static_cast<size_t>(y * 40 + x)] = 60;
  write_png(path("photo.png"), gray8(40, 40, values));
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("photo.png"), {true}));
  EXPECT_EQ(at(got, 0, 0), 0);
  EXPECT_EQ(at(got, 27, 27), 0);
  EXPECT_EQ(at(got, 3, 14), 0);
  EXPECT_EQ(at(got, 14, 14), 195);  // the square, light now
  const std::vector<uint8_t> plain = pixels_of(loom::read_picture(path("photo.png")));
  EXPECT_EQ(at(plain, 0, 0), 255);
  EXPECT_EQ(at(plain, 14, 14), 60);
}

TEST(PictureConversion, RefusesArgumentsThatDoNotFit) {
  const std::vector<float> four(4, 0.5f);
  EXPECT_THROW(loom::to_fashion_mnist_pixels(four, {}, 0, 4), loom::UsageError);
  EXPECT_THROW(loom::to_fashion_mnist_pixels(four, {}, 2, -2), loom::UsageError);
  EXPECT_THROW(loom::to_fashion_mnist_pixels(four, {}, 3, 2), loom::UsageError);
  EXPECT_THROW(loom::to_fashion_mnist_pixels(four, {1.f, 1.f}, 2, 2), loom::UsageError);
  EXPECT_NO_THROW(loom::to_fashion_mnist_pixels(four, four, 2, 2));
  // Out-of-range values are clamped, NaN taken as black.
  const std::vector<uint8_t> got = loom::to_fashion_mnist_pixels({2.f, -1.f, NAN, 1.f}, {}, 2, 2);
  EXPECT_EQ(at(got, 0, 0), 255);
  EXPECT_EQ(at(got, 27, 0), 0);
  EXPECT_EQ(at(got, 0, 27), 0);
  EXPECT_EQ(at(got, 27, 27), 255);
}

// --- bad files -----------------------------------------------------------------------------------------------------

// The error's message: one line, starting with the file named as `picture '<path>': `, containing `needle`.
void expect_picture_error(const std::string& path, const std::string& shown_path, const std::string& needle,
                          bool usage) {
  try {
    loom::read_picture(path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const loom::Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(dynamic_cast<const loom::UsageError*>(&e) != nullptr, usage) << message;
    EXPECT_EQ(message.rfind("picture '" + shown_path + "': ", 0), 0u) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

void expect_usage_error(const std::string& path, const std::string& needle) {
  expect_picture_error(path, path, needle, true);
}
void expect_data_error(const std::string& path, const std::string& needle) {
  expect_picture_error(path, path, needle, false);
}

TEST_F(PictureFile, MissingFileAndDirectoryAreUsageErrors) {
  expect_usage_error(path("absent.png"), "no such file");
  expect_usage_error(dir_, "directory");
  // A control character in the name is spelled out, so the message stays one line.
  expect_picture_error(path("bad\nname\x1b.png"), path("bad\\nname\\x1b.png"), "no such file", true);
}

TEST_F(PictureFile, OtherFilesAreNotPngs) {
  write_file(path("notes.txt"), Bytes{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '\n'});
  expect_data_error(path("notes.txt"), "not a PNG file (loom reads PNG pictures)");
  write_file(path("empty.png"), {});
  expect_data_error(path("empty.png"), "not a PNG file");
  write_file(path("photo.jpg.png"), Bytes{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0});
  expect_data_error(path("photo.jpg.png"), "not a PNG file");
}

TEST_F(PictureFile, TruncatedFilesAreErrors) {
  write_png(path("whole.png"), gray8(kSide, kSide, pattern(kSide * kSide)));
  const Bytes whole = read_file(path("whole.png"));
  const size_t idat = find_chunk(whole, "IDAT");
  ASSERT_GT(idat, 0u);
  // Cut in the signature, in IHDR, in the middle of the image data, and just before the final IEND chunk.
  const std::vector<size_t> cuts = {5, 20, idat + 30, whole.size() - 6};
  for (size_t cut : cuts) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(whole.size()));
    write_file(path("cut.png"), Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    expect_data_error(path("cut.png"), "truncated");
  }
}

TEST_F(PictureFile, CorruptImageDataIsAnError) {
  write_png(path("whole.png"), gray8(kSide, kSide, pattern(kSide * kSide)));
  const Bytes whole = read_file(path("whole.png"));
  const size_t idat = find_chunk(whole, "IDAT");
  ASSERT_GT(idat, 0u);

  // A flipped byte in the compressed data: the chunk's CRC no longer matches.
  Bytes flipped = whole;
  flipped[idat + 8 + 20] ^= 0x5a;
  write_file(path("flipped.png"), flipped);
  expect_data_error(path("flipped.png"), "corrupt PNG");

  // Data that is not a zlib stream at all, under a correct CRC: the decompressor refuses it.
  Bytes garbage = signature();
  append_chunk(garbage, "IHDR", ihdr(kSide, kSide, 8, 0));
  append_chunk(garbage, "IDAT", Bytes(64, 0xee));
  append_chunk(garbage, "IEND", {});
  write_file(path("garbage.png"), garbage);
  expect_data_error(path("garbage.png"), "corrupt PNG");

  // A header with an impossible bit depth.
  Bytes bad_header = signature();
  append_chunk(bad_header, "IHDR", ihdr(kSide, kSide, 7, 0));
  append_chunk(bad_header, "IEND", {});
  write_file(path("header.png"), bad_header);
  expect_data_error(path("header.png"), "corrupt PNG");
}

TEST_F(PictureFile, HugePicturesAreRefusedFromTheirHeader) {
  // A side over 1,000,000 pixels (libpng's default limit): refused from the header, before anything is allocated for
  // the pixels or read.
  Bytes long_side = signature();
  append_chunk(long_side, "IHDR", ihdr(100000000, 1, 8, 0));
  append_chunk(long_side, "IDAT", Bytes(16, 0));
  write_file(path("long.png"), long_side);
  expect_data_error(path("long.png"), "too large: 100000000 x 1 pixels (loom reads at most 1000000 pixels a side)");
  Bytes over_side = signature();
  append_chunk(over_side, "IHDR", ihdr(1000, 1000001, 8, 0));
  append_chunk(over_side, "IDAT", Bytes(16, 0));
  write_file(path("tall.png"), over_side);
  expect_data_error(path("tall.png"), "too large: 1000 x 1000001 pixels");
  // 10000 × 10000 is within the limits: what is wrong with this file is its data.
  Bytes huge = signature();
  append_chunk(huge, "IHDR", ihdr(10000, 10000, 8, 0));
  append_chunk(huge, "IDAT", Bytes(16, 0));
  append_chunk(huge, "IEND", {});
  write_file(path("huge.png"), huge);
  expect_data_error(path("huge.png"), "corrupt PNG");
  // An interlaced picture is held whole while decoded: at most 2^24 pixels. At the limit the size is accepted, and
  // the missing data is what is reported; one row more is too large.
  Bytes over = signature();
  append_chunk(over, "IHDR", ihdr(1 << 12, (1 << 12) + 1, 8, 0, 1));
  append_chunk(over, "IDAT", Bytes(16, 0));
  append_chunk(over, "IEND", {});
  write_file(path("over.png"), over);
  expect_data_error(path("over.png"),
                    "too large: 4096 x 4097 pixels, interlaced (loom holds an interlaced PNG whole, "
                    "and reads one of at most 16777216 pixels; save it without interlacing)");
  Bytes limit = signature();
  append_chunk(limit, "IHDR", ihdr(1 << 12, 1 << 12, 8, 0, 1));
  append_chunk(limit, "IDAT", Bytes(16, 0));
  append_chunk(limit, "IEND", {});
  write_file(path("limit.png"), limit);
  expect_data_error(path("limit.png"), "corrupt PNG");
}

// --- large pictures --------------------------------------------------------------------------------------------------

// 5600 × 4000 (22.4 million pixels, over the 16.7 million every picture was once limited to) in uniform blocks of
// 200 × 200: the picture becomes 28 × 20, each output pixel exactly one block's value, centred at rows 4 to 23. It
// is decoded a row at a time: its 22 MB of samples are never held (libpng's file is under 100 kB).
TEST_F(PictureFile, LargePictureIsReadRowByRow) {
  constexpr uint32_t kWidth = 5600, kHeight = 4000, kBlock = 200;
  auto block_value = [](uint32_t bx, uint32_t by) { return static_cast<uint8_t>((bx * 37 + by * 11 + 5) % 256); };
  Bytes values(size_t{kWidth} * kHeight);
  for (uint32_t y = 0; y < kHeight; ++y)
    for (uint32_t x = 0; x < kWidth; ++x) values[size_t{y} * kWidth + x] = block_value(x / kBlock, y / kBlock);
  write_png(path("large.png"), gray8(kWidth, kHeight, values));
  values = Bytes();
  const std::vector<uint8_t> got = pixels_of(loom::read_picture(path("large.png")));
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const bool content = y >= 4 && y < 24;
      ASSERT_EQ(at(got, x, y), content ? block_value(static_cast<uint32_t>(x), static_cast<uint32_t>(y - 4)) : 0)
          << "x " << x << " y " << y;
    }
}

// Rows decoded one at a time from a PNG give exactly what the picture's values, handed whole to
// to_fashion_mnist_pixels, give: wide and tall pictures, whose two passes run in either order, shrinking and
// enlarging, with alpha, in 16 bits. (Both go through the same resampler, whose results the tests above check
// against values worked out by hand; when it became row by row it was also compared with the whole-picture code it
// replaced over 2,962 sizes, without a difference.)
TEST_F(PictureFile, DecodedRowsGiveWhatThePicturesValuesGive) {
  struct Case {
    uint32_t width, height;
    int color_type, bit_depth;
  };
  for (const Case c : {Case{301, 97, PNG_COLOR_TYPE_GRAY, 8}, Case{20, 21, PNG_COLOR_TYPE_GRAY, 8},
                       Case{97, 301, PNG_COLOR_TYPE_GRAY_ALPHA, 8}, Case{149, 150, PNG_COLOR_TYPE_GRAY_ALPHA, 16},
                       Case{19, 11, PNG_COLOR_TYPE_GRAY, 16}, Case{11, 19, PNG_COLOR_TYPE_GRAY_ALPHA, 8}}) {
    SCOPED_TRACE(std::to_string(c.width) + " x " + std::to_string(c.height));
    const int channels = channels_of(c.color_type);
    const size_t n = size_t{c.width} * c.height;
    const uint32_t top = c.bit_depth == 16 ? 65535 : 255;
    const double full = top;
    std::vector<uint32_t> samples(n * static_cast<size_t>(channels));
    for (size_t i = 0; i < samples.size(); ++i) samples[i] = static_cast<uint32_t>((i * 2654435761u) % (top + 1));
    PngSpec spec;
    spec.width = c.width;
    spec.height = c.height;
    spec.color_type = c.color_type;
    spec.bit_depth = c.bit_depth;
    spec.packed = pack(samples, c.width, c.height, channels, c.bit_depth);
    write_png(path("p.png"), spec);
    std::vector<float> gray(n), alpha(channels == 2 ? n : 0);
    for (size_t i = 0; i < n; ++i) {
      gray[i] = static_cast<float>(samples[i * static_cast<size_t>(channels)] / full);
      if (channels == 2) alpha[i] = static_cast<float>(samples[i * 2 + 1] / full);
    }
    for (const bool invert : {false, true}) {
      EXPECT_EQ(pixels_of(loom::read_picture(path("p.png"), {invert})),
                loom::to_fashion_mnist_pixels(gray, alpha, c.width, c.height, {invert}))
          << "invert " << invert;
    }
  }
}

}  // namespace
