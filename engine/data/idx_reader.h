// Reader for IDX files, the format of the MNIST family of data sets: a big-endian header (two zero bytes, an
// element type, a rank, then one 32-bit size per dimension) followed by the elements in row-major order. Files may
// be gzip-compressed or raw, told apart by their first bytes rather than by their names.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

// The contents of an IDX file whose elements are unsigned bytes (type 0x08), the only type the data sets use.
struct IdxArray {
  std::vector<int64_t> dims;    // 1 to 4 dimensions, each > 0
  std::vector<uint8_t> values;  // product(dims) elements, row-major
};

// Throws loom::Error with a one-line message starting with `path` when the file cannot be read, the gzip stream
// is corrupt or cut short, the header is malformed, or the data is shorter or longer than the header declares; a
// path that names no file, or a directory, FIFO or device, is a loom::UsageError (engine/io/input_file.h).
// Memory grows with the bytes actually read, never with what a (possibly corrupt) header claims.
IdxArray read_idx(const std::string& path);

// The same reading and checks on a file's bytes already in memory (raw or gzip); messages start with `source` in
// place of the path. For the fuzzer (fuzz/) and for callers that hold the bytes already.
IdxArray parse_idx(const std::string& bytes, const std::string& source);

}  // namespace loom
