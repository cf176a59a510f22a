// IDX reading and Fashion-MNIST loading: well-formed files round-trip, and every kind of damage (bad header,
// truncation, trailing bytes, corrupt or cut gzip streams, lying element counts) is reported as one line that names
// the file and the problem, with the error type that sets the app's exit code.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "engine/data/fashion_mnist.h"
#include "engine/data/idx_reader.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// --- building test files -------------------------------------------------------------------------------------------

void append_u32_be(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX file image with an arbitrary header, so tests can write headers that lie.
Bytes idx_bytes(const std::vector<uint32_t>& dims, const Bytes& values, uint8_t type = 0x08,
                std::optional<uint8_t> rank = std::nullopt) {
  Bytes out = {0, 0, type, rank.value_or(static_cast<uint8_t>(dims.size()))};
  for (uint32_t d : dims) append_u32_be(out, d);
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

// Deterministic, varied bytes: compressible enough for deflate to build Huffman tables, not a constant run.
Bytes pattern(size_t n, unsigned seed = 1) {
  Bytes out(n);
  uint32_t state = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    state = state * 1103515245u + 12345u;
    out[i] = static_cast<uint8_t>((i % 17) * 9 + ((state >> 16) & 7));
  }
  return out;
}

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(file.good()) << "could not write " << path;
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << "could not create " << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

Bytes read_raw(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

// --- checking errors -----------------------------------------------------------------------------------------------

enum class ErrorKind { Runtime, Usage };

// Passes when `action` throws the loom error of the given kind (Runtime means loom::Error but not UsageError, since
// the two map to different exit codes) with a one-line message containing every needle.
template <class Action>
::testing::AssertionResult throws_error(ErrorKind kind, Action action, std::initializer_list<std::string> needles) {
  const char* wanted = kind == ErrorKind::Usage ? "loom::UsageError" : "loom::Error (runtime)";
  try {
    action();
  } catch (const loom::Error& e) {
    const std::string message = e.what();
    const bool is_usage = dynamic_cast<const loom::UsageError*>(&e) != nullptr;
    if (is_usage != (kind == ErrorKind::Usage))
      return ::testing::AssertionFailure()
             << "expected " << wanted << ", got " << (is_usage ? "loom::UsageError" : "loom::Error") << ": " << message;
    if (message.find('\n') != std::string::npos)
      return ::testing::AssertionFailure() << "message is not one line: " << message;
    for (const std::string& needle : needles)
      if (message.find(needle) == std::string::npos)
        return ::testing::AssertionFailure() << "message lacks \"" << needle << "\": " << message;
    return ::testing::AssertionSuccess() << message;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "expected " << wanted << ", got another exception: " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "expected " << wanted << ", got a non-standard exception";
  }
  return ::testing::AssertionFailure() << "expected " << wanted << ", nothing was thrown";
}

template <class Action>
::testing::AssertionResult throws_runtime(Action action, std::initializer_list<std::string> needles) {
  return throws_error(ErrorKind::Runtime, action, needles);
}

template <class Action>
::testing::AssertionResult throws_usage(Action action, std::initializer_list<std::string> needles) {
  return throws_error(ErrorKind::Usage, action, needles);
}

// Each test writes into its own fresh directory, removed afterwards.
class IdxFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern_path = std::string(tmp && *tmp ? tmp : "/tmp") + "/loom_idx_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern_path.data()), nullptr) << "mkdtemp failed for " << pattern_path;
    dir_ = pattern_path;
  }
  void TearDown() override {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string dir_;
};

// --- read_idx: good files ------------------------------------------------------------------------------------------

TEST_F(IdxFiles, ReadsRawFile) {
  const Bytes values = pattern(3 * 4 * 5);
  const std::string file = path("raw-idx3-ubyte");
  write_raw(file, idx_bytes({3, 4, 5}, values));

  loom::IdxArray array = loom::read_idx(file);
  EXPECT_EQ(array.dims, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(array.values, values);
}

TEST_F(IdxFiles, ReadsGzipFile) {
  const Bytes values = pattern(7 * 28 * 28);
  const std::string file = path("images-idx3-ubyte.gz");
  write_gz(file, idx_bytes({7, 28, 28}, values));
  ASSERT_LT(read_raw(file).size(), values.size()) << "the test file should really be compressed";

  loom::IdxArray array = loom::read_idx(file);
  EXPECT_EQ(array.dims, (std::vector<int64_t>{7, 28, 28}));
  EXPECT_EQ(array.values, values);
}

TEST_F(IdxFiles, ReadsEveryRankFromOneToFour) {
  const std::vector<std::vector<uint32_t>> shapes = {{5}, {2, 3}, {2, 3, 4}, {2, 1, 3, 2}};
  for (const auto& dims : shapes) {
    size_t n = 1;
    for (uint32_t d : dims) n *= d;
    const Bytes values = pattern(n, static_cast<unsigned>(dims.size()));
    const std::string file = path("rank" + std::to_string(dims.size()) + ".gz");
    write_gz(file, idx_bytes(dims, values));
    loom::IdxArray array = loom::read_idx(file);
    EXPECT_EQ(array.dims, std::vector<int64_t>(dims.begin(), dims.end()));
    EXPECT_EQ(array.values, values);
  }
}

// More than one 1 MiB read chunk, so the chunk boundaries are exercised.
TEST_F(IdxFiles, ReadsDataLargerThanOneChunk) {
  const Bytes values = pattern(3 * 1000 * 1000 + 17);
  const std::string file = path("big.gz");
  write_gz(file, idx_bytes({3 * 1000 * 1000 + 17}, values));
  loom::IdxArray array = loom::read_idx(file);
  EXPECT_EQ(array.values, values);
}

// --- read_idx: bad headers -----------------------------------------------------------------------------------------

TEST_F(IdxFiles, RejectsBadMagic) {
  const std::string file = path("bad-magic");
  Bytes bytes = idx_bytes({4}, pattern(4));
  bytes[0] = 0x12;
  bytes[1] = 0x34;
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "not an IDX file", "0x12 0x34"}));
}

TEST_F(IdxFiles, RejectsNonByteElementType) {
  const std::string file = path("floats.gz");
  write_gz(file, idx_bytes({4}, pattern(16), /*type=*/0x0D));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "unsupported element type 0x0d", "float32"}));
}

TEST_F(IdxFiles, RejectsRankZero) {
  const std::string file = path("rank0");
  write_raw(file, idx_bytes({}, pattern(4), 0x08, /*rank=*/0));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "unsupported rank 0"}));
}

TEST_F(IdxFiles, RejectsRankFive) {
  const std::string file = path("rank5");
  write_raw(file, idx_bytes({1, 1, 1, 1, 1}, pattern(1)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "unsupported rank 5"}));
}

TEST_F(IdxFiles, RejectsZeroDimension) {
  const std::string file = path("zero-dim");
  write_raw(file, idx_bytes({3, 0, 2}, {}));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "dimension 1 is 0"}));
}

TEST_F(IdxFiles, RejectsFileEndingInsideHeader) {
  const std::string file = path("short-header");
  Bytes bytes = idx_bytes({60000, 28, 28}, {});
  bytes.resize(9);  // magic plus one and a bit of the three dimension sizes
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated", "5 of its 12 dimension bytes"}));
}

TEST_F(IdxFiles, RejectsEmptyFile) {
  const std::string file = path("empty");
  write_raw(file, {});
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated", "holds 0 bytes"}));
}

TEST_F(IdxFiles, RejectsElementCountOverflow) {
  const std::string file = path("overflow");
  write_raw(file, idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, pattern(8)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "overflow", "4294967295 x 4294967295"}));
}

// --- read_idx: data shorter or longer than declared ----------------------------------------------------------------

TEST_F(IdxFiles, RejectsTruncatedRawData) {
  const std::string file = path("truncated");
  write_raw(file, idx_bytes({10, 4}, pattern(30)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated", "declares 40", "holds 30"}));
}

TEST_F(IdxFiles, RejectsTruncatedGzipData) {
  // A complete, valid gzip stream whose content is shorter than its IDX header says.
  const std::string file = path("truncated.gz");
  write_gz(file, idx_bytes({10, 4}, pattern(39)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated", "declares 40", "holds 39"}));
}

TEST_F(IdxFiles, RejectsTrailingBytesRaw) {
  const std::string file = path("trailing");
  write_raw(file, idx_bytes({10, 4}, pattern(43)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "trailing", "3 bytes after the 40"}));
}

TEST_F(IdxFiles, RejectsTrailingBytesGzip) {
  const std::string file = path("trailing.gz");
  write_gz(file, idx_bytes({10, 4}, pattern(41)));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "trailing", "1 bytes after the 40"}));
}

// A header claiming billions of elements over a few bytes of data must fail on the data actually present, without
// first trying to allocate (and zero) what the header claims.
TEST_F(IdxFiles, RejectsAbsurdDeclaredCountWithoutAllocatingIt) {
  const std::string four_billion = path("four-billion");
  write_raw(four_billion, idx_bytes({4000000000u}, pattern(92)));
  ASSERT_EQ(read_raw(four_billion).size(), 100u);
  // 65535^3 bytes is 281 TB: an up-front allocation would throw std::bad_alloc, which the helper rejects.
  const std::string petabyte_ish = path("huge.gz");
  write_gz(petabyte_ish, idx_bytes({65535, 65535, 65535}, pattern(1000)));

  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(four_billion); },
                             {four_billion, "truncated", "declares 4000000000", "holds 92"}));
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(petabyte_ish); },
                             {petabyte_ish, "truncated", "declares 281462092005375", "holds 1000"}));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Generous: zeroing 4 GB alone takes longer, reading 1 KB takes microseconds.
  EXPECT_LT(seconds, 1.0) << "rejecting a lying header should not depend on the size it claims";
}

// --- read_idx: damaged gzip streams --------------------------------------------------------------------------------

TEST_F(IdxFiles, RejectsGzipCutInHalf) {
  const std::string file = path("half.gz");
  write_gz(file, idx_bytes({50, 28, 28}, pattern(50 * 28 * 28)));
  Bytes bytes = read_raw(file);
  bytes.resize(bytes.size() / 2);
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated gzip stream", "ends inside"}));
}

// All data decompresses, but the 8-byte trailer (CRC and length) is gone. The large size reproduces the case zlib's
// gzread misses: the last 1 MiB data request ends exactly where the compressed data does, after the whole file has
// been read in, and gzread, gzerror and gzclose_r all report success.
TEST_F(IdxFiles, RejectsGzipMissingTrailer) {
  for (uint32_t rows : {10u, 3000u}) {
    const std::string file = path("no-trailer-" + std::to_string(rows) + ".gz");
    write_gz(file, idx_bytes({rows, 1000}, pattern(rows * 1000)));
    Bytes bytes = read_raw(file);
    bytes.resize(bytes.size() - 8);
    write_raw(file, bytes);
    EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "truncated gzip stream"})) << rows << " rows";
  }
}

// What `cat a.gz b.gz > c.gz` makes: gzip -d reads it as one stream, and so does read_idx.
TEST_F(IdxFiles, ReadsConcatenatedGzipMembers) {
  const Bytes values = pattern(6 * 100);
  const Bytes whole = idx_bytes({6, 100}, values);
  const size_t split = 250;
  write_gz(path("a.gz"), Bytes(whole.begin(), whole.begin() + split));
  write_gz(path("b.gz"), Bytes(whole.begin() + split, whole.end()));
  Bytes joined = read_raw(path("a.gz"));
  const Bytes second = read_raw(path("b.gz"));
  joined.insert(joined.end(), second.begin(), second.end());
  const std::string file = path("joined.gz");
  write_raw(file, joined);

  loom::IdxArray array = loom::read_idx(file);
  EXPECT_EQ(array.dims, (std::vector<int64_t>{6, 100}));
  EXPECT_EQ(array.values, values);
}

// gzread silently ignores bytes after the last gzip member; a data file with junk appended is damaged, so say so.
TEST_F(IdxFiles, RejectsGarbageAfterGzipStream) {
  const std::string file = path("garbage.gz");
  write_gz(file, idx_bytes({10, 10}, pattern(100)));
  Bytes bytes = read_raw(file);
  for (uint8_t junk : {'j', 'u', 'n', 'k'}) bytes.push_back(junk);
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "after the end of the gzip stream"}));
}

TEST_F(IdxFiles, RejectsGzipWithCorruptByteInTheMiddle) {
  const std::string file = path("corrupt.gz");
  write_gz(file, idx_bytes({50, 28, 28}, pattern(50 * 28 * 28)));
  Bytes bytes = read_raw(file);
  bytes[bytes.size() / 2] ^= 0xFF;
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "corrupt gzip stream"}));
}

// The compressed data is intact and decodes to exactly the declared size; only the stored checksum disagrees. Large
// enough to span several input buffers and output chunks.
TEST_F(IdxFiles, RejectsGzipWithBadCrc) {
  const std::string file = path("bad-crc.gz");
  write_gz(file, idx_bytes({3000, 1000}, pattern(3000 * 1000)));
  Bytes bytes = read_raw(file);
  bytes[bytes.size() - 8] ^= 0x01;  // the trailer is CRC-32 then length, little-endian
  write_raw(file, bytes);
  EXPECT_TRUE(throws_runtime([&] { loom::read_idx(file); }, {file, "corrupt gzip stream", "incorrect data check"}));
}

// A path that leads to no file is the command line's mistake (engine/io/input_file.h has the rule).
TEST_F(IdxFiles, RejectsMissingFile) {
  const std::string file = path("does-not-exist.gz");
  EXPECT_TRUE(throws_usage([&] { loom::read_idx(file); }, {file + ": no such file"}));
}

TEST_F(IdxFiles, RejectsDirectory) {
  EXPECT_TRUE(throws_usage([&] { loom::read_idx(dir_); }, {dir_ + ": is a directory, not a file"}));
}

// --- parse_idx: the same reader on bytes in memory ----------------------------------------------------------------

std::string as_string(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// Good files, raw and gzip, small and spanning several of the reader's 256 KiB input pieces and 1 MiB output chunks,
// read back from memory exactly as from the file.
TEST_F(IdxFiles, ParseIdxReadsBytesAsReadIdxReadsTheFile) {
  const std::vector<std::pair<std::vector<uint32_t>, Bytes>> files = {
      {{3, 4, 5}, pattern(60)}, {{2, 1, 3, 2}, pattern(12, 2)}, {{3000, 1000}, pattern(3000 * 1000, 3)}};
  for (const auto& [dims, values] : files) {
    for (bool gzip : {false, true}) {
      const std::string file = path(gzip ? "good.gz" : "good");
      if (gzip) {
        write_gz(file, idx_bytes(dims, values));
      } else {
        write_raw(file, idx_bytes(dims, values));
      }
      const loom::IdxArray array = loom::parse_idx(as_string(read_raw(file)), "memory");
      EXPECT_EQ(array.dims, std::vector<int64_t>(dims.begin(), dims.end())) << values.size() << " gzip " << gzip;
      EXPECT_TRUE(array.values == values) << values.size() << " bytes, gzip " << gzip;
    }
  }
}

// Every kind of damage is the same loom::Error as from the file, with `source` where the path would be.
TEST_F(IdxFiles, ParseIdxReportsDamageAsReadIdxDoesNamingTheSource) {
  write_gz(path("whole.gz"), idx_bytes({3000, 1000}, pattern(3000 * 1000)));
  const Bytes gz = read_raw(path("whole.gz"));
  Bytes no_trailer = gz, bad_crc = gz, corrupt = gz, garbage = gz;
  no_trailer.resize(gz.size() - 8);
  bad_crc[gz.size() - 8] ^= 0x01;
  corrupt[gz.size() / 2] ^= 0xFF;
  garbage.insert(garbage.end(), {'j', 'u', 'n', 'k'});
  Bytes short_header = idx_bytes({60000, 28, 28}, {});
  short_header.resize(9);
  const std::vector<std::pair<Bytes, std::string>> damaged = {
      {{}, "holds 0 bytes"},
      {{0x12, 0x34, 0x08, 0x01}, "not an IDX file"},
      {idx_bytes({4}, pattern(16), 0x0D), "unsupported element type 0x0d"},
      {short_header, "5 of its 12 dimension bytes"},
      {idx_bytes({10, 4}, pattern(30)), "truncated: header declares 40 data bytes"},
      {idx_bytes({10, 4}, pattern(41)), "trailing data: 1 bytes"},
      {idx_bytes({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, pattern(8)), "overflow"},
      {no_trailer, "truncated gzip stream"},
      {Bytes(gz.begin(), gz.begin() + gz.size() / 2), "truncated gzip stream"},
      {bad_crc, "incorrect data check"},
      {corrupt, "corrupt gzip stream"},
      {garbage, "after the end of the gzip stream"}};
  for (const auto& [bytes, problem] : damaged) {
    const std::string file = path("damaged");
    write_raw(file, bytes);
    std::string from_file;
    try {
      loom::read_idx(file);
    } catch (const loom::Error& e) {
      from_file = e.what();
    }
    ASSERT_EQ(from_file.rfind(file + ": ", 0), 0u) << problem << ": " << from_file;
    EXPECT_TRUE(throws_runtime([&] { loom::parse_idx(as_string(bytes), "bytes of t10k"); },
                               {"bytes of t10k: " + from_file.substr(file.size() + 2), problem}));
  }
}

// --- load_labeled_images -------------------------------------------------------------------------------------------

TEST_F(IdxFiles, LoadsLabeledImagesIntoCpuTensors) {
  const Bytes pixels = pattern(6 * 3 * 2);
  const Bytes labels = {0, 9, 3, 3, 7, 1};
  write_gz(path("images.gz"), idx_bytes({6, 3, 2}, pixels));
  write_raw(path("labels"), idx_bytes({6}, labels));

  loom::LabeledImages data = loom::load_labeled_images(path("images.gz"), path("labels"));
  EXPECT_EQ(data.size(), 6);
  EXPECT_EQ(data.images.shape(), (loom::Shape{6, 3, 2}));
  EXPECT_EQ(data.labels.shape(), (loom::Shape{6}));
  EXPECT_EQ(data.images.device(), loom::Device::CPU);
  EXPECT_EQ(data.labels.device(), loom::Device::CPU);
  EXPECT_EQ(Bytes(data.images.data<uint8_t>(), data.images.data<uint8_t>() + pixels.size()), pixels);
  EXPECT_EQ(Bytes(data.labels.data<uint8_t>(), data.labels.data<uint8_t>() + labels.size()), labels);
  EXPECT_EQ(loom::LabeledImages{}.size(), 0);
}

TEST_F(IdxFiles, LabeledImagesRejectCountMismatch) {
  const std::string images = path("images.gz");
  const std::string labels = path("labels.gz");
  write_gz(images, idx_bytes({10, 2, 2}, pattern(40)));
  write_gz(labels, idx_bytes({9}, Bytes(9, 1)));
  EXPECT_TRUE(throws_runtime([&] { loom::load_labeled_images(images, labels); },
                             {labels + ": 9 labels for 10 images in " + images}));
}

TEST_F(IdxFiles, LabeledImagesRejectOutOfRangeLabel) {
  const std::string images = path("images.gz");
  const std::string labels = path("labels.gz");
  write_gz(images, idx_bytes({8, 2, 2}, pattern(32)));
  write_gz(labels, idx_bytes({8}, {0, 1, 2, 3, 4, 12, 6, 7}));
  EXPECT_TRUE(throws_runtime([&] { loom::load_labeled_images(images, labels); },
                             {labels + ": label 12 at index 5 is outside [0, 10)"}));
  // The same file is fine when the caller says there are more classes.
  EXPECT_EQ(loom::load_labeled_images(images, labels, 13).size(), 8);
}

TEST_F(IdxFiles, LabeledImagesRejectWrongRanks) {
  const std::string flat_images = path("flat-images");
  const std::string labels = path("labels");
  const std::string matrix_labels = path("matrix-labels");
  const std::string images = path("images");
  write_raw(flat_images, idx_bytes({8}, pattern(8)));
  write_raw(labels, idx_bytes({2}, {1, 2}));
  write_raw(matrix_labels, idx_bytes({2, 1}, {1, 2}));
  write_raw(images, idx_bytes({2, 2, 2}, pattern(8)));
  EXPECT_TRUE(throws_runtime([&] { loom::load_labeled_images(flat_images, labels); },
                             {flat_images, "expected images of rank 3", "found rank 1"}));
  EXPECT_TRUE(throws_runtime([&] { loom::load_labeled_images(images, matrix_labels); },
                             {matrix_labels, "expected labels of rank 1", "found rank 2"}));
}

TEST_F(IdxFiles, LabeledImagesPropagateFileErrors) {
  const std::string images = path("images");
  const std::string labels = path("missing-labels");
  write_raw(images, idx_bytes({2, 2, 2}, pattern(8)));
  EXPECT_TRUE(throws_usage([&] { loom::load_labeled_images(images, labels); }, {labels + ": no such file"}));
}

// --- load_fashion_mnist --------------------------------------------------------------------------------------------

TEST_F(IdxFiles, FashionMnistInEmptyDirectoryIsUsageError) {
  EXPECT_TRUE(throws_usage([&] { loom::load_fashion_mnist(dir_); },
                           {path("train-images-idx3-ubyte.gz"), "not found", "dataset-fashion-mnist", "--data"}));
}

TEST_F(IdxFiles, FashionMnistInMissingDirectoryIsUsageError) {
  const std::string missing = path("no-such-dir");
  EXPECT_TRUE(throws_usage([&] { loom::load_fashion_mnist(missing); },
                           {missing, "directory not found", "dataset-fashion-mnist", "--data"}));
  EXPECT_TRUE(throws_usage([&] { loom::load_fashion_mnist(""); }, {"empty path", "dataset-fashion-mnist"}));
}

TEST_F(IdxFiles, FashionMnistNamesTheMissingFile) {
  write_gz(path("train-images-idx3-ubyte.gz"), idx_bytes({2, 3, 3}, pattern(18)));
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_bytes({2}, {0, 1}));
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_bytes({1, 3, 3}, pattern(9)));
  EXPECT_TRUE(throws_usage([&] { loom::load_fashion_mnist(dir_); },
                           {path("t10k-labels-idx1-ubyte.gz"), "not found", "dataset-fashion-mnist"}));
}

// gunzipped files (names without .gz) are found too, and a mix of both works.
TEST_F(IdxFiles, FashionMnistFallsBackToUncompressedNames) {
  write_raw(path("train-images-idx3-ubyte"), idx_bytes({3, 4, 4}, pattern(48)));
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_bytes({3}, {9, 0, 5}));
  write_raw(path("t10k-images-idx3-ubyte"), idx_bytes({2, 4, 4}, pattern(32)));
  write_raw(path("t10k-labels-idx1-ubyte"), idx_bytes({2}, {1, 8}));

  loom::FashionMnist data = loom::load_fashion_mnist(dir_);
  EXPECT_EQ(data.train.size(), 3);
  EXPECT_EQ(data.test.size(), 2);
  EXPECT_EQ(data.train.labels.data<uint8_t>()[0], 9);
  EXPECT_EQ(data.test.labels.data<uint8_t>()[1], 8);
}

TEST_F(IdxFiles, FashionMnistCorruptFileIsRuntimeError) {
  const std::string train_images = path("train-images-idx3-ubyte.gz");
  write_gz(train_images, idx_bytes({3, 4, 4}, pattern(47)));
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_bytes({3}, {9, 0, 5}));
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_bytes({2, 4, 4}, pattern(32)));
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_bytes({2}, {1, 8}));
  EXPECT_TRUE(throws_runtime([&] { loom::load_fashion_mnist(dir_); }, {train_images, "truncated"}));
}

TEST_F(IdxFiles, FashionMnistRejectsTestImagesOfAnotherSize) {
  const std::string test_images = path("t10k-images-idx3-ubyte.gz");
  write_gz(path("train-images-idx3-ubyte.gz"), idx_bytes({3, 4, 4}, pattern(48)));
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_bytes({3}, {9, 0, 5}));
  write_gz(test_images, idx_bytes({2, 5, 5}, pattern(50)));
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_bytes({2}, {1, 8}));
  EXPECT_TRUE(throws_runtime([&] { loom::load_fashion_mnist(dir_); }, {test_images, "5x5", "4x4"}));
}

// --- resolve_fashion_mnist_dir -------------------------------------------------------------------------------------

using loom::test::ScopedEnv;

TEST(FashionMnistDir, FlagBeatsEnvironmentBeatsDefault) {
  const std::string default_dir = "/usr/share/datasets/fashion-mnist";
  {
    ScopedEnv env("FASHION_MNIST_DIR", nullptr);
    EXPECT_EQ(loom::resolve_fashion_mnist_dir(""), default_dir);
    EXPECT_EQ(loom::resolve_fashion_mnist_dir("/flag/dir"), "/flag/dir");
  }
  {
    ScopedEnv env("FASHION_MNIST_DIR", "");  // set but empty counts as unset
    EXPECT_EQ(loom::resolve_fashion_mnist_dir(""), default_dir);
  }
  {
    ScopedEnv env("FASHION_MNIST_DIR", "/env/dir");
    EXPECT_EQ(loom::resolve_fashion_mnist_dir(""), "/env/dir");
    EXPECT_EQ(loom::resolve_fashion_mnist_dir("/flag/dir"), "/flag/dir");
  }
}

TEST(FashionMnistClasses, NamesInLabelOrder) {
  EXPECT_STREQ(loom::kFashionMnistClassNames[0], "T-shirt/top");
  EXPECT_STREQ(loom::kFashionMnistClassNames[1], "Trouser");
  EXPECT_STREQ(loom::kFashionMnistClassNames[5], "Sandal");
  EXPECT_STREQ(loom::kFashionMnistClassNames[9], "Ankle boot");
}

// --- the real data set ---------------------------------------------------------------------------------------------

TEST(FashionMnistDataSet, LoadsTheInstalledFiles) {
  // FASHION_MNIST_DIR lets ctest point at a copy elsewhere; otherwise the package's location.
  const std::string dir = loom::resolve_fashion_mnist_dir("");
  std::error_code ignored;
  if (!fs::is_directory(dir, ignored))
    GTEST_SKIP() << "Fashion-MNIST not installed at " << dir
                 << " (sudo apt-get install dataset-fashion-mnist, or set FASHION_MNIST_DIR)";

  loom::FashionMnist data = loom::load_fashion_mnist(dir);
  ASSERT_EQ(data.train.images.shape(), (loom::Shape{60000, 28, 28}));
  ASSERT_EQ(data.train.labels.shape(), (loom::Shape{60000}));
  ASSERT_EQ(data.test.images.shape(), (loom::Shape{10000, 28, 28}));
  ASSERT_EQ(data.test.labels.shape(), (loom::Shape{10000}));
  EXPECT_EQ(data.train.images.dtype(), loom::DType::U8);

  // The data set is balanced by construction: 6,000 training and 1,000 test images per class.
  std::array<int, 10> train_counts{}, test_counts{};
  const uint8_t* train_labels = data.train.labels.data<uint8_t>();
  const uint8_t* test_labels = data.test.labels.data<uint8_t>();
  for (int64_t i = 0; i < data.train.size(); ++i) {
    ASSERT_LT(train_labels[i], 10) << "at " << i;
    ++train_counts[train_labels[i]];
  }
  for (int64_t i = 0; i < data.test.size(); ++i) {
    ASSERT_LT(test_labels[i], 10) << "at " << i;
    ++test_counts[test_labels[i]];
  }
  for (int c = 0; c < 10; ++c) {
    EXPECT_EQ(train_counts[c], 6000) << loom::kFashionMnistClassNames[c];
    EXPECT_EQ(test_counts[c], 1000) << loom::kFashionMnistClassNames[c];
  }

  // Real pictures, not zeros: dark backgrounds, bright garments, a mean near the published 72.9 (0.286 * 255).
  const uint8_t* pixels = data.train.images.data<uint8_t>();
  const int64_t n = data.train.images.numel();
  double sum = 0;
  uint8_t lo = 255, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += pixels[i];
    lo = std::min(lo, pixels[i]);
    hi = std::max(hi, pixels[i]);
  }
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, 255);
  EXPECT_NEAR(sum / static_cast<double>(n), 72.94, 0.5);
}

}  // namespace
