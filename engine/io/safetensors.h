// The safetensors format (Hugging Face's; what PyTorch, candle, tinygrad and Keras 3 users exchange weights in):
//   8 bytes   N, the header's length, unsigned little-endian
//   N bytes   a JSON object: for each tensor "name": {"dtype": "F32", "shape": [784, 128], "data_offsets": [b, e]},
//             and optionally "__metadata__": an object of string values; padded with spaces to a multiple of 8
//   the rest  the data buffer: each tensor's bytes, little-endian and row-major, at [b, e) from the buffer's start;
//             the tensors cover the buffer exactly, without gaps or overlaps
// The writer makes such files atomically; the reader trusts nothing in them: every length, offset, dtype and shape is
// checked, and every problem is a loom::Error of one line naming the file and what is wrong, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/runtime/tensor.h"

namespace loom {

// The header may not be longer than this (as in the reference implementation): a corrupt length is refused before
// anything is allocated for it.
constexpr uint64_t kSafetensorsMaxHeaderBytes = uint64_t{100} << 20;
// Files may not be larger than this: beyond any model loom trains, it stops a wrong path (a data set, a disk image)
// from being read into memory whole; the writer refuses to make a file the reader would refuse.
constexpr uint64_t kSafetensorsMaxFileBytes = uint64_t{4} << 30;

class SafetensorsWriter {
 public:
  // Adds a tensor; its bytes (numel · dtype size, row-major) are copied. A UsageError for an empty name, the name
  // "__metadata__", a name already added, a name that is not UTF-8, a negative dimension, more than 8 dimensions
  // (which the reader refuses), or null `data` for a tensor of some bytes.
  void add(const std::string& name, DType dtype, const Shape& shape, const void* data);
  void add(const std::string& name, const Shape& shape, const std::vector<float>& values);  // F32; sizes must agree
  // A string entry of "__metadata__" (replaces an earlier value for the key); a UsageError when either is not UTF-8.
  void set_metadata(const std::string& key, const std::string& value);

  // The whole file: header (keys sorted, padded with spaces to a multiple of 8), then the data in the order added.
  // A UsageError when it would exceed the 4 GiB the reader accepts.
  std::string serialize() const;
  // serialize() written with write_file_atomically: on failure loom::Error "cannot write '<path>': <reason>", and a
  // previous file at `path` is intact.
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::string bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

// One tensor of a file that was read: its bytes live in the SafetensorsFile.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  size_t offset = 0;  // into the data buffer
  size_t bytes = 0;
};

class SafetensorsFile {
 public:
  // Reads and checks the file at `path`. Errors say "safetensors file '<path>': <problem>" on one line: not a regular
  // file or unreadable, shorter than 8 bytes, header length 0 / over the limit / past the end of the file, header not
  // a JSON object (or not valid JSON, or with a repeated key), an entry that is not {dtype, shape, data_offsets} or
  // has other keys, a dtype loom does not read (it reads F32, I32 and U8), a shape of non-integers or negatives,
  // offsets whose span does not match dtype and shape, tensors that overlap or leave gaps, a buffer that the tensors
  // do not cover exactly (trailing bytes, a truncated file), metadata values that are not strings. Files over 4 GiB
  // and shapes of more than 8 dimensions are refused too. No file at `path`, or one that is not a regular file, is a
  // loom::UsageError instead, by the rule of engine/io/input_file.h.
  static SafetensorsFile read(const std::string& path);
  // The same checks on bytes already in memory; `source` stands for the path in messages (tests, the fuzzer).
  static SafetensorsFile parse(std::string contents, const std::string& source);

  const std::string& source() const { return source_; }
  // In data-offset order.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(const std::string& name) const;  // null when absent
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The metadata value for `key`; a loom::Error naming the file and the key when absent.
  const std::string& metadata(const std::string& key) const;

  // The tensor's values; loom::Error naming the file and the tensor when it is not F32 (or absent, for the name).
  std::vector<float> floats(const SafetensorsTensor& tensor) const;
  std::vector<float> floats(const std::string& name) const;
  // The raw bytes of any tensor (little-endian, row-major).
  const char* data(const SafetensorsTensor& tensor) const { return contents_.data() + data_start_ + tensor.offset; }

  // "safetensors file '<source>': <problem>" as a loom::Error: for callers that find the file's content wrong for
  // their purpose (a shape that does not fit the model), so every message about a file reads the same.
  [[noreturn]] void fail(const std::string& problem) const;

 private:
  std::string source_;
  std::string contents_;
  size_t data_start_ = 0;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace loom
