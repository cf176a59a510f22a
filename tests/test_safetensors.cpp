// Safetensors files: what the writer makes reads back bit for bit (and as the Python safetensors package reads it),
// files the Python package writes are read, and every kind of damage, hand-made or random, is refused with one
// loom::Error line naming the file and the problem, never a crash.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/io/safetensors.h"
#include "engine/runtime/errors.h"
#include "tests/test_support.h"

namespace loom::test {
namespace {

namespace fs = std::filesystem;

void spit(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

std::string le64(uint64_t value) {
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

uint64_t header_length(const std::string& file) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(file[i]);
  return n;
}

// A file made by hand: the header exactly as given (no padding), then `data`.
std::string file_of(const std::string& header, const std::string& data = "") {
  return le64(header.size()) + header + data;
}

// The message of the loom::Error that parsing `contents` throws; a test failure when it throws none, another type,
// or a message that is not one line naming the source.
std::string refusal(const std::string& contents, const std::string& source = "bad.safetensors") {
  try {
    SafetensorsFile::parse(contents, source);
  } catch (const UsageError& e) {
    ADD_FAILURE() << "a damaged file is a loom::Error, not a UsageError: " << e.what();
    return e.what();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("safetensors file '" + source + "': ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no error parsing " << contents.size() << " bytes";
  return "";
}

#define EXPECT_REFUSED(contents, fragment)                                    \
  do {                                                                        \
    const std::string message_ = refusal(contents);                           \
    EXPECT_NE(message_.find(fragment), std::string::npos)                     \
        << "the message\n  " << message_ << "\nshould say\n  " << (fragment); \
  } while (0)

std::string bytes_of(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

// Values whose bits a lossy path would change: NaN, signed zero, a subnormal, infinities.
const std::vector<float> kAwkward = {
    1.5f, -0.0f, std::numeric_limits<float>::quiet_NaN(), 1e-45f, std::numeric_limits<float>::infinity(), -3.25e38f};

SafetensorsWriter sample_writer() {
  SafetensorsWriter writer;
  writer.add("dense/kernel", {2, 3}, kAwkward);
  const std::vector<int32_t> labels = {-7, 0, 2147483647};
  writer.add("labels", DType::I32, {3}, labels.data());
  const std::vector<uint8_t> mask = {0, 128, 255, 1};
  writer.add("mask", DType::U8, {2, 2}, mask.data());
  writer.add("empty", {0, 5}, std::vector<float>{});
  writer.add("scalar", {}, std::vector<float>{42.f});
  writer.add("a_first_by_name", {1}, std::vector<float>{-1.f});
  writer.set_metadata("format", "pt");
  writer.set_metadata("note", "replaced");
  writer.set_metadata("note", "lin\u00e9 two");
  return writer;
}

void expect_sample(const SafetensorsFile& file) {
  // Data-offset order, which is the order the tensors were added in.
  std::vector<std::string> names;
  for (const SafetensorsTensor& tensor : file.tensors()) names.push_back(tensor.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense/kernel", "labels", "mask", "empty", "scalar", "a_first_by_name"}));

  const SafetensorsTensor* kernel = file.find("dense/kernel");
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(kernel->dtype, DType::F32);
  EXPECT_EQ(kernel->shape, (Shape{2, 3}));
  EXPECT_EQ(kernel->offset, 0u);
  EXPECT_EQ(kernel->bytes, 24u);
  EXPECT_EQ(bytes_of(file.floats("dense/kernel")), bytes_of(kAwkward));  // bit for bit, NaN and -0 included

  const SafetensorsTensor* labels = file.find("labels");
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(labels->dtype, DType::I32);
  EXPECT_EQ(labels->shape, (Shape{3}));
  int32_t label_values[3];
  ASSERT_EQ(labels->bytes, sizeof label_values);
  std::memcpy(label_values, file.data(*labels), sizeof label_values);
  EXPECT_EQ(label_values[0], -7);
  EXPECT_EQ(label_values[1], 0);
  EXPECT_EQ(label_values[2], 2147483647);

  const SafetensorsTensor* mask = file.find("mask");
  ASSERT_NE(mask, nullptr);
  EXPECT_EQ(mask->dtype, DType::U8);
  EXPECT_EQ(mask->shape, (Shape{2, 2}));
  EXPECT_EQ(std::string(file.data(*mask), mask->bytes), std::string("\x00\x80\xff\x01", 4));

  const SafetensorsTensor* empty = file.find("empty");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->shape, (Shape{0, 5}));
  EXPECT_EQ(empty->bytes, 0u);
  EXPECT_TRUE(file.floats(*empty).empty());

  const SafetensorsTensor* scalar = file.find("scalar");
  ASSERT_NE(scalar, nullptr);
  EXPECT_EQ(scalar->shape, Shape{});
  EXPECT_EQ(file.floats(*scalar), std::vector<float>{42.f});
  EXPECT_EQ(file.floats("a_first_by_name"), std::vector<float>{-1.f});

  EXPECT_EQ(file.find("absent"), nullptr);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}, {"note", "lin\u00e9 two"}}));
  EXPECT_EQ(file.metadata("format"), "pt");
}

TEST(Safetensors, SerializedFileParsesBackToTheSameTensorsAndMetadata) {
  const std::string bytes = sample_writer().serialize();
  const SafetensorsFile file = SafetensorsFile::parse(bytes, "memory");
  EXPECT_EQ(file.source(), "memory");
  expect_sample(file);
}

TEST(Safetensors, HeaderIsSortedJsonPaddedWithSpacesToAlignTheData) {
  SafetensorsWriter writer;
  writer.add("b", {2}, std::vector<float>{1.f, 2.f});
  writer.add("a", DType::U8, {3}, "xyz");
  writer.set_metadata("k", "v");
  const std::string bytes = writer.serialize();
  const uint64_t n = header_length(bytes);
  EXPECT_EQ((8 + n) % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 8 + 3);
  const std::string json = R"({"__metadata__":{"k":"v"},"a":{"data_offsets":[8,11],"dtype":"U8","shape":[3]},)"
                           R"("b":{"data_offsets":[0,8],"dtype":"F32","shape":[2]}})";
  ASSERT_GE(n, json.size());
  EXPECT_LT(n - json.size(), 8u);
  EXPECT_EQ(bytes.substr(8, n), json + std::string(n - json.size(), ' '));
  EXPECT_EQ(bytes.substr(8 + n), bytes_of({1.f, 2.f}) + "xyz");  // in the order added, not sorted
}

TEST(Safetensors, NoMetadataWritesNoMetadataKey) {
  SafetensorsWriter writer;
  writer.add("w", {1}, std::vector<float>{3.f});
  const std::string bytes = writer.serialize();
  EXPECT_EQ(bytes.substr(8, header_length(bytes)).find("__metadata__"), std::string::npos);
  EXPECT_TRUE(SafetensorsFile::parse(bytes, "m").metadata().empty());
}

TEST(Safetensors, FileWithoutTensorsRoundTrips) {
  const std::string bytes = SafetensorsWriter().serialize();
  EXPECT_EQ(bytes.size(), 16u);  // "{}" padded to 8
  const SafetensorsFile file = SafetensorsFile::parse(bytes, "m");
  EXPECT_TRUE(file.tensors().empty());
  EXPECT_TRUE(file.metadata().empty());
}

TEST(Safetensors, ZeroElementTensorsMayShareAnOffset) {
  const std::string header = R"({"z1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                             R"("z2":{"dtype":"U8","shape":[3,0],"data_offsets":[4,4]},)"
                             R"("b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}})";
  const SafetensorsFile file = SafetensorsFile::parse(file_of(header, bytes_of({2.f}) + "q"), "m");
  ASSERT_EQ(file.tensors().size(), 4u);
  EXPECT_EQ(file.tensors()[0].name, "a");
  EXPECT_EQ(file.tensors()[3].name, "b");
  EXPECT_EQ(file.find("z2")->shape, (Shape{3, 0}));
  EXPECT_EQ(std::string(file.data(*file.find("b")), 1), "q");
}

TEST(Safetensors, HeaderNeedsNoPaddingButMayHaveWhitespace) {
  const std::string entry = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  EXPECT_EQ(SafetensorsFile::parse(file_of(entry, bytes_of({5.f})), "m").floats("a"), std::vector<float>{5.f});
  EXPECT_EQ(SafetensorsFile::parse(file_of(" \n" + entry + "  \t\n ", bytes_of({5.f})), "m").floats("a"),
            std::vector<float>{5.f});
}

class SafetensorsFiles : public TempDirTest {};

TEST_F(SafetensorsFiles, WrittenFileReadsBack) {
  sample_writer().write(path("model.safetensors"));
  const SafetensorsFile file = SafetensorsFile::read(path("model.safetensors"));
  EXPECT_EQ(file.source(), path("model.safetensors"));
  expect_sample(file);
  EXPECT_EQ(slurp(path("model.safetensors")), sample_writer().serialize());
}

TEST_F(SafetensorsFiles, WriteReplacesAndFailsLikeAnyAtomicWrite) {
  SafetensorsWriter small;
  small.add("x", {1}, std::vector<float>{1.f});
  sample_writer().write(path("model.safetensors"));
  small.write(path("model.safetensors"));
  EXPECT_EQ(SafetensorsFile::read(path("model.safetensors")).tensors().size(), 1u);
  const std::string missing = path("missing/model.safetensors");
  try {
    small.write(missing);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write '" + missing + "': No such file or directory");
  }
}

// Reads `path`, expecting a loom::Error that names it and says `fragment`.
void expect_read_refused(const std::string& path, const std::string& fragment) {
  try {
    SafetensorsFile::read(path);
    ADD_FAILURE() << "no error reading " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("safetensors file '" + path + "': ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message << "\nshould say " << fragment;
  }
}

TEST_F(SafetensorsFiles, MissingPathIsRefused) {
  expect_read_refused(path("absent.safetensors"), "no such file");
  expect_read_refused(path("absent/inner.safetensors"), "no such file");
}

TEST_F(SafetensorsFiles, DirectoryIsRefused) { expect_read_refused(dir_, "is a directory, not a file"); }

TEST_F(SafetensorsFiles, FifoIsRefusedWithoutWaitingForAWriter) {
  ASSERT_EQ(mkfifo(path("pipe").c_str(), 0600), 0);
  expect_read_refused(path("pipe"), "is a FIFO, not a file");
}

TEST_F(SafetensorsFiles, DeviceIsRefused) {
  if (!fs::exists("/dev/zero")) GTEST_SKIP() << "no /dev/zero here";
  expect_read_refused("/dev/zero", "is a character device, not a file");
}

TEST_F(SafetensorsFiles, UnreadableFileIsRefused) {
  if (geteuid() == 0) GTEST_SKIP() << "running as root, which reads files whatever their permissions";
  sample_writer().write(path("model.safetensors"));
  fs::permissions(path("model.safetensors"), fs::perms::none);
  expect_read_refused(path("model.safetensors"), "cannot read: Permission denied");
}

TEST_F(SafetensorsFiles, DamagedFileIsNamedByItsPath) {
  spit(path("model.safetensors"), "abc");
  expect_read_refused(path("model.safetensors"), "is 3 bytes long");
}

TEST_F(SafetensorsFiles, PathWithControlCharactersStaysOneLine) {
  const std::string odd = path("line\nbreak.safetensors");
  spit(odd, "abc");
  try {
    SafetensorsFile::read(odd);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("line\\nbreak.safetensors"), std::string::npos) << message;
  }
}

// ---- damage, one kind at a time ----

const std::string kGoodEntry = R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
const std::string kGoodData = bytes_of({1.f, 2.f});

TEST(SafetensorsCorrupt, ShorterThanTheLengthField) {
  EXPECT_REFUSED("", "is 0 bytes long, too short for the 8-byte header length");
  EXPECT_REFUSED("abc", "is 3 bytes long");
  EXPECT_REFUSED(std::string(7, '\0'), "is 7 bytes long");
}

TEST(SafetensorsCorrupt, HeaderLengthZero) { EXPECT_REFUSED(le64(0) + "{}", "header length is 0"); }

TEST(SafetensorsCorrupt, HeaderLengthPastTheEnd) {
  EXPECT_REFUSED(le64(100) + "{}", "header length 100 runs past the end of the file (10 bytes)");
  EXPECT_REFUSED(le64(3) + "{}", "header length 3 runs past the end of the file (10 bytes)");
}

TEST(SafetensorsCorrupt, HeaderLengthOverTheLimit) {
  EXPECT_REFUSED(le64(kSafetensorsMaxHeaderBytes + 1) + "{}",
                 "header length 104857601 is over the limit of 104857600 bytes");
  EXPECT_REFUSED(le64(~uint64_t{0}) + "{}", "is over the limit");  // 8 + N would wrap around
}

TEST(SafetensorsCorrupt, InvalidJson) {
  EXPECT_REFUSED(file_of(R"({"a": )"), "the header is not valid JSON: ");
  EXPECT_REFUSED(file_of("{" + kGoodEntry + "} trailing", kGoodData), "the header is not valid JSON: ");
  EXPECT_REFUSED(file_of("{\"\xff\":1}"), "the header is not valid JSON: ");  // not UTF-8
  const std::string message = refusal(file_of("{\"a\":\n\x01}"));
  EXPECT_EQ(message.find("json.exception"), std::string::npos) << "nlohmann's tag should be gone: " << message;
}

TEST(SafetensorsCorrupt, HeaderNotAnObject) {
  EXPECT_REFUSED(file_of("[1, 2]"), "the header is a JSON array, not an object");
  EXPECT_REFUSED(file_of("\"text\""), "the header is a JSON string, not an object");
}

TEST(SafetensorsCorrupt, EntryNotAnObject) {
  EXPECT_REFUSED(file_of(R"({"a": [0, 8]})", kGoodData), "tensor 'a' is a JSON array, not an object");
}

TEST(SafetensorsCorrupt, EntryMissingAKey) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2]}})", kGoodData), "tensor 'a' has no data_offsets");
  EXPECT_REFUSED(file_of(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", kGoodData), "tensor 'a' has no dtype");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", kGoodData), "tensor 'a' has no shape");
}

TEST(SafetensorsCorrupt, EntryWithAnExtraKey) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]}})", kGoodData),
                 "tensor 'a' has the unknown key 'strides'");
}

TEST(SafetensorsCorrupt, DtypeLoomDoesNotRead) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has dtype F16; loom reads F32, I32 and U8");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has dtype BF16; loom reads F32, I32 and U8");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has dtype F64; loom reads F32, I32 and U8");
}

TEST(SafetensorsCorrupt, UnknownDtype) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has the unknown dtype 'Q7'; loom reads F32, I32 and U8");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", kGoodData),
                 "the unknown dtype 'f32'");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has a dtype that is a JSON number, not a string");
}

TEST(SafetensorsCorrupt, NegativeDimension) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has the shape [-2]; dimensions must be non-negative integers");
}

TEST(SafetensorsCorrupt, NonIntegerDimension) {
  for (const char* shape : {"[2.5]", "[2.0]", R"(["2"])", "[null]", "[[2]]", "[1e30]", "[18446744073709551615]"}) {
    SCOPED_TRACE(shape);
    EXPECT_REFUSED(
        file_of(std::string(R"({"a":{"dtype":"F32","shape":)") + shape + R"(,"data_offsets":[0,8]}})", kGoodData),
        "dimensions must be non-negative integers");
  }
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has a shape that is a JSON number, not a list");
}

TEST(SafetensorsCorrupt, TooManyDimensionsOrElements) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}})", "x"),
                 "tensor 'a' has 9 dimensions; loom reads at most 8");
  // 2^32 · 2^32 elements overflow 64 bits: without checked arithmetic they would pass as 0 bytes.
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"),
                 "tensor 'a' has the shape (4294967296, 4294967296), more elements than any file can hold");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})"),
                 "more elements than any file can hold");
}

TEST(SafetensorsCorrupt, BadDataOffsets) {
  for (const char* offsets : {"[0]", "[0,8,9]", R"([0,"8"])", "[-1,7]", "8", "[0,8.0]"}) {
    SCOPED_TRACE(offsets);
    EXPECT_REFUSED(
        file_of(std::string(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":)") + offsets + "}}", kGoodData),
        "they must be two non-negative integers [begin, end]");
  }
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", kGoodData),
                 "tensor 'a' has data_offsets [8,0] that end before they begin");
}

TEST(SafetensorsCorrupt, SpanDoesNotMatchShape) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", kGoodData),
                 "tensor 'a' has data_offsets [0,4], a span of 4 bytes, but F32 of shape (2,) takes 8 bytes");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,8]}})", kGoodData),
                 "a span of 8 bytes, but I32 of shape (2, 2) takes 16 bytes");
}

TEST(SafetensorsCorrupt, Overlap) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                         std::string(12, 'x')),
                 "tensors 'a' at [0, 8) and 'b' at [4, 12) overlap");
  // The same bytes claimed twice.
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                         R"("b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                         kGoodData),
                 "tensors 'a' at [0, 8) and 'b' at [0, 8) overlap");
}

TEST(SafetensorsCorrupt, Gap) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                         R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                         std::string(12, 'x')),
                 "a gap of 4 bytes between tensor 'a' at [0, 4) and tensor 'b' at [8, 12)");
}

TEST(SafetensorsCorrupt, FirstTensorNotAtZero) {
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kGoodData),
                 "the first tensor 'a' begins at 4, not 0");
}

TEST(SafetensorsCorrupt, BytesAfterTheLastTensor) {
  EXPECT_REFUSED(file_of("{" + kGoodEntry + "}", kGoodData + "tail"), "4 bytes after the last tensor 'a'");
  EXPECT_REFUSED(file_of("{}", "tail"), "the header names no tensors, but 4 bytes follow it");
  std::string written = sample_writer().serialize();
  EXPECT_REFUSED(written + "x", "1 bytes after the last tensor 'a_first_by_name'");
}

TEST(SafetensorsCorrupt, TruncatedData) {
  EXPECT_REFUSED(file_of("{" + kGoodEntry + "}", kGoodData.substr(0, 5)),
                 "the file is truncated: tensor 'a' ends at 8 but the data holds only 5 bytes");
  const std::string written = sample_writer().serialize();
  const uint64_t data = written.size() - 8 - header_length(written);
  EXPECT_REFUSED(written.substr(0, written.size() - 1), "the file is truncated: tensor 'a_first_by_name' ends at " +
                                                            std::to_string(data) + " but the data holds only " +
                                                            std::to_string(data - 1) + " bytes");
}

TEST(SafetensorsCorrupt, BadMetadata) {
  EXPECT_REFUSED(file_of(R"({"__metadata__":{"k":1},)" + kGoodEntry + "}", kGoodData),
                 "'__metadata__' holds a JSON number for 'k'; its values must be strings");
  EXPECT_REFUSED(file_of(R"({"__metadata__":{"k":{"x":"y"}}})"), "'__metadata__' holds a JSON object for 'k'");
  EXPECT_REFUSED(file_of(R"({"__metadata__":["k","v"]})"), "'__metadata__' is a JSON array, not an object of strings");
}

TEST(SafetensorsCorrupt, RepeatedKeys) {
  EXPECT_REFUSED(file_of("{" + kGoodEntry + "," + kGoodEntry + "}", kGoodData), "the header names tensor 'a' twice");
  EXPECT_REFUSED(file_of(R"({"__metadata__":{"k":"v","k":"w"}})"), "'__metadata__' has the key 'k' twice");
  EXPECT_REFUSED(file_of(R"({"__metadata__":{},"__metadata__":{}})"), "the header names '__metadata__' twice");
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", kGoodData),
                 "tensor 'a' has the key 'dtype' twice");
}

TEST(SafetensorsCorrupt, EmptyTensorName) {
  EXPECT_REFUSED(file_of(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kGoodData),
                 "a tensor has the empty name");
}

TEST(SafetensorsCorrupt, DeepNestingAndLongListsAreRefusedWhileParsing) {
  EXPECT_REFUSED(file_of(R"({"__metadata__":)" + std::string(100000, '[') + std::string(100000, ']') + "}"),
                 "the header nests lists or objects more than 8 deep");
  std::string shape = "[1";
  for (int i = 0; i < 1000; ++i) shape += ",1";
  EXPECT_REFUSED(file_of(R"({"a":{"dtype":"U8","shape":)" + shape + R"(],"data_offsets":[0,1]}})", "x"),
                 "the header holds a list of more than 64 items");
}

TEST(SafetensorsCorrupt, NamesFromTheFileAreEscapedAndShortened) {
  const std::string message =
      refusal(file_of(R"({"line\nbreak\u0001":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", kGoodData));
  EXPECT_NE(message.find("tensor 'line\\nbreak\\x01' has dtype F16"), std::string::npos) << message;
  const std::string long_name(1000, 'n');
  const std::string long_message =
      refusal(file_of(R"({")" + long_name + R"(":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", kGoodData));
  EXPECT_NE(long_message.find("tensor '" + std::string(80, 'n') + "...' has dtype F16"), std::string::npos)
      << long_message;
  EXPECT_LT(long_message.size(), 250u);
}

// ---- the writer and the accessors ----

TEST(Safetensors, WriterRefusesBadTensors) {
  SafetensorsWriter writer;
  writer.add("w", {1}, std::vector<float>{1.f});
  const float value = 1.f;
  EXPECT_THROW(writer.add("", DType::F32, {1}, &value), UsageError);
  EXPECT_THROW(writer.add("__metadata__", DType::F32, {1}, &value), UsageError);
  EXPECT_THROW(writer.add("w", DType::F32, {1}, &value), UsageError);
  EXPECT_THROW(writer.add("neg", DType::F32, {2, -1}, &value), UsageError);
  EXPECT_THROW(writer.add("neg", {2, -1}, std::vector<float>{}), UsageError);
  EXPECT_THROW(writer.add("deep", DType::U8, Shape(9, 1), &value), UsageError);
  EXPECT_THROW(writer.add("no_data", DType::F32, {1}, nullptr), UsageError);
  EXPECT_THROW(writer.add("bad\xff utf8", DType::F32, {1}, &value), UsageError);
  EXPECT_THROW(writer.set_metadata("k", "\xc3"), UsageError);
  try {
    writer.add("short", {2, 3}, std::vector<float>(5));
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "safetensors: tensor 'short' has the shape (2, 3) of 6 elements, but 5 values were given");
  }
  // Nothing refused was kept.
  const SafetensorsFile file = SafetensorsFile::parse(writer.serialize(), "m");
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_EQ(file.tensors()[0].name, "w");
  EXPECT_TRUE(file.metadata().empty());
}

TEST(Safetensors, WriterCopiesTheData) {
  SafetensorsWriter writer;
  std::vector<float> values = {1.f, 2.f};
  writer.add("w", DType::F32, {2}, values.data());
  values[0] = 99.f;
  EXPECT_EQ(SafetensorsFile::parse(writer.serialize(), "m").floats("w"), (std::vector<float>{1.f, 2.f}));
}

// Runs `call`, expecting a loom::Error whose message is exactly `expected`.
template <class Call>
void expect_message(Call call, const std::string& expected) {
  try {
    call();
    ADD_FAILURE() << "no error; expected " << expected;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
}

TEST(Safetensors, AccessorsFailNamingTheFileAndTheTensor) {
  const SafetensorsFile file = SafetensorsFile::parse(sample_writer().serialize(), "model.safetensors");
  const std::string prefix = "safetensors file 'model.safetensors': ";
  expect_message([&] { file.floats("labels"); }, prefix + "tensor 'labels' holds I32 values, not F32");
  expect_message([&] { file.floats(*file.find("mask")); }, prefix + "tensor 'mask' holds U8 values, not F32");
  expect_message([&] { file.floats("absent"); }, prefix + "has no tensor 'absent'");
  expect_message([&] { file.metadata("absent"); }, prefix + "has no metadata 'absent'");
  expect_message([&] { file.fail("tensor 'w' has shape (3,); the layer wants (4,)"); },
                 prefix + "tensor 'w' has shape (3,); the layer wants (4,)");
  SafetensorsTensor foreign;
  foreign.name = "foreign";
  foreign.offset = 1u << 20;
  foreign.bytes = 4;
  EXPECT_THROW(file.floats(foreign), UsageError);
}

// ---- random damage ----

TEST(SafetensorsFuzz, RandomDamageIsRefusedOrReadNeverCrashes) {
  const std::string valid = sample_writer().serialize();
  const size_t header_end = 8 + header_length(valid);
  const std::string syntax = "{}[]\":,-.0123456789eE \\u";
  std::mt19937 rng(20240611);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  int accepted = 0, refused = 0;
  for (int iteration = 0; iteration < 2000; ++iteration) {
    std::string damaged = valid;
    switch (iteration % 5) {
      case 0:  // random bytes anywhere
        for (size_t k = 1 + below(3); k > 0; --k) damaged[below(damaged.size())] = static_cast<char>(below(256));
        break;
      case 1:  // JSON punctuation and digits in the header, where they change the structure
        for (size_t k = 1 + below(3); k > 0; --k) damaged[8 + below(header_end - 8)] = syntax[below(syntax.size())];
        break;
      case 2:  // cut short anywhere
        damaged.resize(below(damaged.size()));
        break;
      case 3:  // a byte of the length field
        damaged[below(8)] = static_cast<char>(below(256));
        break;
      case 4:  // a byte inserted into the header (the length no longer matches), or a single bit flipped
        if (iteration % 2 == 0) {
          damaged.insert(8 + below(header_end - 8), 1, syntax[below(syntax.size())]);
        } else {
          damaged[below(damaged.size())] ^= static_cast<char>(1u << below(8));
        }
        break;
    }
    try {
      const SafetensorsFile file = SafetensorsFile::parse(damaged, "fuzz");
      ++accepted;
      // Whatever was accepted must be safe to use: every tensor inside the buffer, floats() readable.
      const size_t data_bytes = damaged.size() - 8 - header_length(damaged);
      for (const SafetensorsTensor& tensor : file.tensors()) {
        ASSERT_LE(tensor.offset + tensor.bytes, data_bytes) << tensor.name;
        ASSERT_EQ(tensor.bytes, static_cast<size_t>(shape_numel(tensor.shape)) * dtype_size(tensor.dtype));
        if (tensor.dtype == DType::F32) {
          EXPECT_EQ(file.floats(tensor).size() * 4, tensor.bytes);
        }
      }
    } catch (const UsageError& e) {
      ADD_FAILURE() << "iteration " << iteration << ": UsageError for damaged data: " << e.what();
    } catch (const Error& e) {
      ++refused;
      const std::string message = e.what();
      ASSERT_EQ(message.rfind("safetensors file 'fuzz': ", 0), 0u) << message;
      ASSERT_EQ(message.find('\n'), std::string::npos) << message;
    } catch (const std::exception& e) {
      FAIL() << "iteration " << iteration << ": " << e.what() << " is not a loom::Error";
    }
  }
  EXPECT_GT(refused, 1000) << "the damage should mostly be caught";
  EXPECT_GT(accepted, 0) << "some damage (in the data, or in metadata text) is harmless";
}

// ---- the Python safetensors package ----

bool python_safetensors_available() {
  return std::system("/usr/bin/python3 -c 'import safetensors.numpy, numpy' >/dev/null 2>&1") == 0;
}

// Runs a Python script with `argument`; true when it exits 0.
bool run_python(const std::string& script_path, const std::string& script, const std::string& argument) {
  spit(script_path, script);
  return std::system(("/usr/bin/python3 '" + script_path + "' '" + argument + "'").c_str()) == 0;
}

class SafetensorsPython : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (!python_safetensors_available()) {
      GTEST_SKIP() << "Python's safetensors package is not installed: pip install safetensors (and numpy)";
    }
  }
};

TEST_F(SafetensorsPython, ReadsFileWrittenByPython) {
  const std::string script = R"(import sys
import numpy as np
import safetensors.numpy
safetensors.numpy.save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3) * np.float32(0.5) - np.float32(1),
                             "b": np.array([1, -2, 2147483647], dtype=np.int32),
                             "c": np.array([7], dtype=np.uint8),
                             "z": np.zeros((0, 3), dtype=np.float32)},
                            sys.argv[1], metadata={"k": "v", "format": "np"})
)";
  ASSERT_TRUE(run_python(path("write.py"), script, path("python.safetensors"))) << "the Python script failed";
  const SafetensorsFile file = SafetensorsFile::read(path("python.safetensors"));
  ASSERT_EQ(file.tensors().size(), 4u);
  EXPECT_EQ(file.find("a")->dtype, DType::F32);
  EXPECT_EQ(file.find("a")->shape, (Shape{2, 3}));
  EXPECT_EQ(file.floats("a"), (std::vector<float>{-1.f, -0.5f, 0.f, 0.5f, 1.f, 1.5f}));
  const SafetensorsTensor* b = file.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, DType::I32);
  EXPECT_EQ(b->shape, (Shape{3}));
  std::vector<int32_t> b_values(3);
  ASSERT_EQ(b->bytes, 12u);
  std::memcpy(b_values.data(), file.data(*b), 12);
  EXPECT_EQ(b_values, (std::vector<int32_t>{1, -2, 2147483647}));
  const SafetensorsTensor* c = file.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->dtype, DType::U8);
  EXPECT_EQ(c->shape, (Shape{1}));
  EXPECT_EQ(std::string(file.data(*c), c->bytes), "\x07");
  EXPECT_EQ(file.find("z")->shape, (Shape{0, 3}));
  EXPECT_EQ(file.find("z")->bytes, 0u);
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"k", "v"}, {"format", "np"}}));
}

TEST_F(SafetensorsPython, PythonReadsFileWrittenByLoom) {
  sample_writer().write(path("loom.safetensors"));
  const std::string script = R"(import sys
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
expected = {
    "dense/kernel": np.array([1.5, -0.0, np.nan, 1e-45, np.inf, -3.25e38], dtype=np.float32).reshape(2, 3),
    "labels": np.array([-7, 0, 2147483647], dtype=np.int32),
    "mask": np.array([[0, 128], [255, 1]], dtype=np.uint8),
    "empty": np.zeros((0, 5), dtype=np.float32),
    "scalar": np.array(42, dtype=np.float32),
    "a_first_by_name": np.array([-1], dtype=np.float32),
}
ok = sorted(t) == sorted(expected)
for name, want in expected.items():
    got = t.get(name)
    same = got is not None and got.dtype == want.dtype and got.shape == want.shape and got.tobytes() == want.tobytes()
    if not same:
        print("mismatch in", name, got, "expected", want, file=sys.stderr)
    ok = ok and same
with safe_open(sys.argv[1], framework="np") as f:
    metadata = f.metadata()
if metadata != {"format": "pt", "note": "lin\u00e9 two"}:
    print("metadata", metadata, file=sys.stderr)
    ok = False
sys.exit(0 if ok else 1)
)";
  EXPECT_TRUE(run_python(path("check.py"), script, path("loom.safetensors")))
      << "Python's safetensors package did not read back what loom wrote (see its output above)";
}

}  // namespace
}  // namespace loom::test
