#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/io/atomic_file.h"
#include "engine/io/file_text.h"
#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

// The format stores little-endian values, which floats() and data() hand out as they lie in the file.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "loom's safetensors reader assumes a little-endian host");
static_assert(sizeof(size_t) >= sizeof(uint64_t), "offsets in the file are 64-bit");

namespace loom {

namespace {

using nlohmann::json;

// Beyond any tensor loom makes; the writer holds to it too, so loom never writes a file it cannot read back.
constexpr size_t kMaxRank = 8;
// A valid header nests four deep (header, entry, shape, dimension) and its lists hold at most kMaxRank items; the
// parser refuses anything far beyond, as a corrupt header of nested or long lists would otherwise make a DOM many
// times its 100 MiB size before any of it could be checked.
constexpr size_t kMaxDepth = 8;
constexpr size_t kMaxListItems = 64;
// About 16 values a tensor: room for 65,536 tensors, where a DOM stays far below a gigabyte.
constexpr size_t kMaxHeaderValues = size_t{1} << 20;

std::string echoed(const std::string& text) { return "'" + one_line(text, kShownBytes) + "'"; }

[[noreturn]] void fail_source(const std::string& source, const std::string& problem) {
  throw Error("safetensors file '" + one_line(source) + "': " + one_line(problem));
}

// Every dtype name of the format, so a file that is valid but holds what loom cannot use is told apart from damage.
constexpr const char* kOtherDtypes[] = {"F64",     "F16",     "BF16",    "I64",  "I16",     "I8",
                                        "U64",     "U32",     "U16",     "BOOL", "F8_E4M3", "F8_E5M2",
                                        "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4",   "C64"};
constexpr const char* kReadable = "loom reads F32, I32 and U8";

const char* format_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::I32:
      return "I32";
    case DType::U8:
      return "U8";
  }
  return "?";
}

// Non-negative JSON integers; nlohmann keeps "-0" as a signed zero, which still counts.
bool as_count(const json& value, uint64_t& out) {
  if (value.is_number_unsigned()) {
    out = value.get<uint64_t>();
    return true;
  }
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    out = static_cast<uint64_t>(value.get<int64_t>());
    return true;
  }
  return false;
}

// numel · dtype size, or false when either overflows (the shape is then no tensor any file could hold).
bool byte_count(const Shape& shape, DType dtype, uint64_t& bytes) {
  uint64_t numel = 1;
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel)) return false;
  }
  return numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
         !__builtin_mul_overflow(numel, uint64_t{dtype_size(dtype)}, &bytes);
}

// Bounded as file_text.h explains; problems are phrased in the header's terms (a repeated key at the top names a
// tensor twice, which would be ambiguous).
json parse_header(const std::string& source, const char* begin, const char* end) {
  try {
    return parse_bounded_json(std::string(begin, end), {kMaxDepth, kMaxListItems, kMaxHeaderValues});
  } catch (const JsonProblem& problem) {
    const std::vector<std::string>& keys = problem.keys;
    auto owner = [](const std::string& name) { return (name == "__metadata__" ? "" : "tensor ") + echoed(name); };
    switch (problem.kind) {
      case JsonProblem::Kind::TooDeep:
        fail_source(source, "the header " + std::string(problem.what()) + ", far beyond any safetensors header");
      case JsonProblem::Kind::TooLong:
        fail_source(source, "the header " + std::string(problem.what()) + ", far beyond any safetensors header" +
                                (std::string(problem.what()).find("list") == std::string::npos
                                     ? ""
                                     : " (shapes have at most " + std::to_string(kMaxRank) + " dimensions)"));
      case JsonProblem::Kind::RepeatedKey:
        if (keys.size() == 1) fail_source(source, "the header names " + owner(keys[0]) + " twice");
        if (keys.size() == 2) fail_source(source, owner(keys[0]) + " has the key " + echoed(keys[1]) + " twice");
        fail_source(source, "the header " + std::string(problem.what()));
      case JsonProblem::Kind::Invalid:
        break;
    }
    fail_source(source, "the header " + std::string(problem.what()));
  }
}

SafetensorsTensor check_entry(const std::string& source, const std::string& name, const json& entry) {
  auto fail = [&](const std::string& problem) { fail_source(source, "tensor " + echoed(name) + " " + problem); };
  constexpr const char* kKeys = "(an entry holds exactly dtype, shape and data_offsets)";
  if (!entry.is_object()) fail(std::string("is a JSON ") + entry.type_name() + ", not an object " + kKeys);
  for (const auto& item : entry.items()) {
    if (item.key() != "dtype" && item.key() != "shape" && item.key() != "data_offsets") {
      fail("has the unknown key " + echoed(item.key()) + " " + kKeys);
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!entry.contains(key)) fail(std::string("has no ") + key + " " + kKeys);
  }

  SafetensorsTensor tensor;
  tensor.name = name;
  const json& dtype = entry["dtype"];
  if (!dtype.is_string()) fail(std::string("has a dtype that is a JSON ") + dtype.type_name() + ", not a string");
  const std::string& dtype_text = dtype.get_ref<const std::string&>();
  if (dtype_text == "F32") {
    tensor.dtype = DType::F32;
  } else if (dtype_text == "I32") {
    tensor.dtype = DType::I32;
  } else if (dtype_text == "U8") {
    tensor.dtype = DType::U8;
  } else if (std::find(std::begin(kOtherDtypes), std::end(kOtherDtypes), dtype_text) != std::end(kOtherDtypes)) {
    fail("has dtype " + dtype_text + "; " + kReadable);
  } else {
    fail("has the unknown dtype " + echoed(dtype_text) + "; " + kReadable);
  }

  const json& shape = entry["shape"];
  if (!shape.is_array()) fail(std::string("has a shape that is a JSON ") + shape.type_name() + ", not a list");
  if (shape.size() > kMaxRank) {
    fail("has " + std::to_string(shape.size()) + " dimensions; loom reads at most " + std::to_string(kMaxRank));
  }
  for (const json& dim : shape) {
    uint64_t size = 0;
    if (!as_count(dim, size) || size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      fail("has the shape " + shown_json(shape) + "; dimensions must be non-negative integers");
    }
    tensor.shape.push_back(static_cast<int64_t>(size));
  }
  uint64_t bytes = 0;
  if (!byte_count(tensor.shape, tensor.dtype, bytes)) {
    fail("has the shape " + shape_str(tensor.shape) + ", more elements than any file can hold");
  }

  const json& offsets = entry["data_offsets"];
  uint64_t begin = 0, end = 0;
  if (!offsets.is_array() || offsets.size() != 2 || !as_count(offsets[0], begin) || !as_count(offsets[1], end)) {
    fail("has data_offsets " + shown_json(offsets) + "; they must be two non-negative integers [begin, end]");
  }
  if (end < begin) fail("has data_offsets " + shown_json(offsets) + " that end before they begin");
  if (end - begin != bytes) {
    fail("has data_offsets " + shown_json(offsets) + ", a span of " + std::to_string(end - begin) + " bytes, but " +
         format_name(tensor.dtype) + " of shape " + shape_str(tensor.shape) + " takes " + std::to_string(bytes) +
         " bytes");
  }
  tensor.offset = begin;
  tensor.bytes = bytes;
  return tensor;
}

std::string span(const SafetensorsTensor& tensor) {
  return "[" + std::to_string(tensor.offset) + ", " + std::to_string(tensor.offset + tensor.bytes) + ")";
}

// Every byte of the buffer belongs to exactly one tensor; `tensors` are in offset order.
void check_coverage(const std::string& source, const std::vector<SafetensorsTensor>& tensors, uint64_t data_bytes) {
  uint64_t covered = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const SafetensorsTensor& tensor = tensors[i];
    if (i == 0 && tensor.offset != 0) {
      fail_source(source, "the first tensor " + echoed(tensor.name) + " begins at " + std::to_string(tensor.offset) +
                              ", not 0: the bytes before it belong to no tensor");
    }
    if (i > 0 && tensor.offset != covered) {
      const SafetensorsTensor& previous = tensors[i - 1];
      fail_source(source, tensor.offset < covered
                              ? "tensors " + echoed(previous.name) + " at " + span(previous) + " and " +
                                    echoed(tensor.name) + " at " + span(tensor) + " overlap"
                              : "a gap of " + std::to_string(tensor.offset - covered) + " bytes between tensor " +
                                    echoed(previous.name) + " at " + span(previous) + " and tensor " +
                                    echoed(tensor.name) + " at " + span(tensor));
    }
    covered = tensor.offset + tensor.bytes;
  }
  if (covered < data_bytes) {
    fail_source(source, tensors.empty()
                            ? "the header names no tensors, but " + std::to_string(data_bytes) + " bytes follow it"
                            : std::to_string(data_bytes - covered) + " bytes after the last tensor " +
                                  echoed(tensors.back().name) + " belong to no tensor");
  }
  if (covered > data_bytes) {
    fail_source(source, "the file is truncated: tensor " + echoed(tensors.back().name) + " ends at " +
                            std::to_string(covered) + " but the data holds only " + std::to_string(data_bytes) +
                            " bytes");
  }
}

std::string read_contents(const std::string& path) {
  InputFile file(path, "safetensors file '" + one_line(path) + "'");
  if (static_cast<uint64_t>(file.status().st_size) > kSafetensorsMaxFileBytes) {
    fail_source(
        path, "is " + std::to_string(file.status().st_size) + " bytes; loom reads safetensors files of at most 4 GiB");
  }
  std::string contents = file.read_all(kSafetensorsMaxFileBytes);
  if (contents.size() > kSafetensorsMaxFileBytes) fail_source(path, "grew beyond 4 GiB while being read");
  return contents;
}

std::string checked_utf8(const std::string& text, const std::string& what) {
  try {
    return json(text).dump();
  } catch (const json::type_error&) {
    throw UsageError("safetensors: " + what + " " + echoed(text) + " is not valid UTF-8");
  }
}

}  // namespace

void SafetensorsWriter::add(const std::string& name, DType dtype, const Shape& shape, const void* data) {
  const std::string tensor = "safetensors: tensor " + echoed(name);
  if (name.empty()) throw UsageError("safetensors: a tensor needs a name; the empty name was given");
  if (name == "__metadata__") throw UsageError(tensor + ": the name is reserved for the file's metadata");
  for (const Entry& entry : entries_) {
    if (entry.name == name) throw UsageError(tensor + " is added twice");
  }
  checked_utf8(name, "tensor name");
  if (shape.size() > kMaxRank) {
    throw UsageError(tensor + " has " + std::to_string(shape.size()) + " dimensions; the reader takes at most " +
                     std::to_string(kMaxRank));
  }
  for (int64_t dim : shape) {
    if (dim < 0) throw UsageError(tensor + " has the shape " + shape_str(shape) + " with a negative dimension");
  }
  uint64_t bytes = 0;
  if (!byte_count(shape, dtype, bytes)) throw UsageError(tensor + " has the shape " + shape_str(shape) + ", too big");
  if (bytes > 0 && data == nullptr) throw UsageError(tensor + ": no data for its " + std::to_string(bytes) + " bytes");
  entries_.push_back(
      {name, dtype, shape, bytes > 0 ? std::string(static_cast<const char*>(data), bytes) : std::string()});
}

void SafetensorsWriter::add(const std::string& name, const Shape& shape, const std::vector<float>& values) {
  // A negative or huge shape is left to the other add(), which names the problem.
  const bool negative = std::any_of(shape.begin(), shape.end(), [](int64_t dim) { return dim < 0; });
  uint64_t bytes = 0;
  if (!negative && byte_count(shape, DType::F32, bytes) && values.size() * sizeof(float) != bytes) {
    throw UsageError("safetensors: tensor " + echoed(name) + " has the shape " + shape_str(shape) + " of " +
                     std::to_string(bytes / sizeof(float)) + " elements, but " + std::to_string(values.size()) +
                     " values were given");
  }
  add(name, DType::F32, shape, values.data());
}

void SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
  checked_utf8(key, "metadata key");
  checked_utf8(value, "metadata value");
  metadata_[key] = value;
}

std::string SafetensorsWriter::serialize() const {
  json header = json::object();
  uint64_t offset = 0;
  for (const Entry& entry : entries_) {
    const uint64_t end = offset + entry.bytes.size();
    header[entry.name] = {
        {"dtype", format_name(entry.dtype)}, {"shape", entry.shape}, {"data_offsets", json::array({offset, end})}};
    offset = end;
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump();
  // loom never writes a file it would refuse to read.
  if (offset + text.size() + 16 > kSafetensorsMaxFileBytes)
    throw UsageError("the tensors and header come to " + std::to_string(offset + text.size()) +
                     " bytes, more than the 4 GiB a loom safetensors file may hold");
  // Aligns the data buffer to 8 bytes, so a reader that maps the file can use the values in place.
  text.append((8 - text.size() % 8) % 8, ' ');

  std::string out;
  out.reserve(8 + text.size() + offset);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((uint64_t{text.size()} >> (8 * i)) & 0xff);
  out += text;
  for (const Entry& entry : entries_) out += entry.bytes;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const { write_file_atomically(path, serialize()); }

SafetensorsFile SafetensorsFile::read(const std::string& path) { return parse(read_contents(path), path); }

SafetensorsFile SafetensorsFile::parse(std::string contents, const std::string& source) {
  SafetensorsFile file;
  file.source_ = source;
  file.contents_ = std::move(contents);
  const std::string& bytes = file.contents_;
  if (bytes.size() < 8) {
    file.fail("is " + std::to_string(bytes.size()) + " bytes long, too short for the 8-byte header length");
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | static_cast<unsigned char>(bytes[i]);
  if (header_bytes == 0) file.fail("header length is 0");
  if (header_bytes > kSafetensorsMaxHeaderBytes) {
    file.fail("header length " + std::to_string(header_bytes) + " is over the limit of " +
              std::to_string(kSafetensorsMaxHeaderBytes) + " bytes");
  }
  if (header_bytes > bytes.size() - 8) {
    file.fail("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
              std::to_string(bytes.size()) + " bytes)");
  }
  file.data_start_ = 8 + header_bytes;

  const json header = parse_header(source, bytes.data() + 8, bytes.data() + file.data_start_);
  if (!header.is_object()) file.fail(std::string("the header is a JSON ") + header.type_name() + ", not an object");
  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      if (!item.value().is_object()) {
        file.fail(std::string("'__metadata__' is a JSON ") + item.value().type_name() + ", not an object of strings");
      }
      for (const auto& entry : item.value().items()) {
        if (!entry.value().is_string()) {
          file.fail("'__metadata__' holds a JSON " + std::string(entry.value().type_name()) + " for " +
                    echoed(entry.key()) + "; its values must be strings");
        }
        file.metadata_[entry.key()] = entry.value().get<std::string>();
      }
      continue;
    }
    if (item.key().empty()) file.fail("a tensor has the empty name");
    file.tensors_.push_back(check_entry(source, item.key(), item.value()));
  }
  // By (begin, end): tensors of no elements may share an offset, and then precede the tensor that starts there.
  std::sort(file.tensors_.begin(), file.tensors_.end(), [](const SafetensorsTensor& a, const SafetensorsTensor& b) {
    return std::tie(a.offset, a.bytes, a.name) < std::tie(b.offset, b.bytes, b.name);
  });
  check_coverage(source, file.tensors_, bytes.size() - file.data_start_);
  return file;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  for (const SafetensorsTensor& tensor : tensors_) {
    if (tensor.name == name) return &tensor;
  }
  return nullptr;
}

const std::string& SafetensorsFile::metadata(const std::string& key) const {
  const auto found = metadata_.find(key);
  if (found == metadata_.end()) fail("has no metadata " + echoed(key));
  return found->second;
}

std::vector<float> SafetensorsFile::floats(const SafetensorsTensor& tensor) const {
  if (tensor.dtype != DType::F32) {
    fail("tensor " + echoed(tensor.name) + " holds " + format_name(tensor.dtype) + " values, not F32");
  }
  // A tensor of another file would read past this one's buffer.
  if (tensor.offset > contents_.size() - data_start_ || tensor.bytes > contents_.size() - data_start_ - tensor.offset) {
    throw UsageError("safetensors file '" + one_line(source_) + "': tensor " + echoed(tensor.name) +
                     " is not one of this file's");
  }
  std::vector<float> values(tensor.bytes / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), data(tensor), tensor.bytes);
  return values;
}

std::vector<float> SafetensorsFile::floats(const std::string& name) const {
  const SafetensorsTensor* tensor = find(name);
  if (tensor == nullptr) fail("has no tensor " + echoed(name));
  return floats(*tensor);
}

void SafetensorsFile::fail(const std::string& problem) const { fail_source(source_, problem); }

}  // namespace loom
