#include "engine/data/idx_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "engine/io/input_file.h"
#include "engine/runtime/errors.h"

namespace loom {
namespace {

constexpr int kUnsignedByteType = 0x08;
constexpr int kMaxRank = 4;
// Data is read (and the output grown) a chunk at a time, so a header that lies about the element count costs at
// most one chunk beyond the bytes really present. Chunks start small and double up to the largest: a small file
// whose header claims millions of elements then costs kilobytes, not a megabyte (fuzzing tries many).
constexpr size_t kFirstChunkBytes = size_t{64} << 10;
constexpr size_t kChunkBytes = size_t{1} << 20;

const char* idx_type_name(int type) {
  switch (type) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

std::string hex_byte(unsigned value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02x", value & 0xFFu);
  return text;
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += " x ";
    s += std::to_string(dims[i]);
  }
  return s;
}

// Reads a file's bytes (from the file, or from memory that holds them), decompressing gzip when they start with the
// gzip magic and passing anything else through, and turns every failure into a loom::Error that names the file.
//
// This drives zlib's inflate directly rather than gzread: when a gzread request ends exactly where the compressed
// data ends and the file has been read to its end, a stream whose CRC/length trailer is missing reads back with no
// error from gzread, gzerror or gzclose_r. That happens to the real training images (47,040,000 bytes read in 1 MiB
// chunks), so only inflate's own Z_STREAM_END can say a stream is complete.
class IdxInput {
 public:
  // The file at `path`, read a buffer at a time.
  explicit IdxInput(const std::string& path)
      : source_(path), file_(std::make_unique<InputFile>(path, path)), buffer_(kInputBufferBytes) {
    start();
  }

  // Bytes already in memory (not copied: they must outlive this input); `source` names them in messages.
  IdxInput(const std::string& bytes, const std::string& source)
      : source_(source), memory_(reinterpret_cast<const uint8_t*>(bytes.data())), memory_left_(bytes.size()) {
    start();
  }

  ~IdxInput() {
    if (inflate_ready_) inflateEnd(&stream_);
  }

  IdxInput(const IdxInput&) = delete;
  IdxInput& operator=(const IdxInput&) = delete;

  // Reads up to `bytes` bytes; fewer only at the end of the data, and for gzip only after the stream has ended
  // with a valid trailer.
  size_t read(uint8_t* out, size_t bytes) { return gzip_ ? inflate_into(out, bytes) : copy_into(out, bytes); }

  [[noreturn]] void fail(const std::string& problem) const { throw Error(source_ + ": " + problem); }

 private:
  // Looks at the first bytes to tell gzip from raw data.
  void start() {
    refill();
    gzip_ = stream_.avail_in >= 2 && stream_.next_in[0] == 0x1f && stream_.next_in[1] == 0x8b;
    // 15 window bits plus 16: gzip wrapper only, so a corrupt header is an error, not a silent switch to raw.
    if (gzip_ && inflateInit2(&stream_, 15 + 16) != Z_OK) fail("out of memory starting the gzip decoder");
    inflate_ready_ = gzip_;
  }

  // Makes the next input bytes available in stream_ once the previous ones are used up: from memory directly (at
  // most kInputBufferBytes at a time, as zlib's counts are 32-bit), from a file through buffer_.
  void refill() {
    if (at_eof_ || stream_.avail_in > 0) return;
    if (!file_) {
      const size_t n = std::min(memory_left_, kInputBufferBytes);
      stream_.next_in = const_cast<uint8_t*>(memory_);  // zlib never writes through next_in (no Z_CONST build)
      stream_.avail_in = static_cast<unsigned>(n);
      memory_ += n;
      memory_left_ -= n;
      at_eof_ = memory_left_ == 0;
      return;
    }
    const size_t got = file_->read(buffer_.data(), buffer_.size());
    at_eof_ = got < buffer_.size();
    stream_.next_in = buffer_.data();
    stream_.avail_in = static_cast<unsigned>(got);
  }

  size_t copy_into(uint8_t* out, size_t bytes) {
    size_t total = 0;
    while (total < bytes) {
      refill();
      if (stream_.avail_in == 0) break;
      const size_t n = std::min<size_t>(stream_.avail_in, bytes - total);
      std::memcpy(out + total, stream_.next_in, n);
      stream_.next_in += n;
      stream_.avail_in -= static_cast<unsigned>(n);
      total += n;
    }
    return total;
  }

  size_t inflate_into(uint8_t* out, size_t bytes) {
    size_t total = 0;
    while (total < bytes) {
      refill();
      if (member_ended_) {
        if (stream_.avail_in == 0) break;  // the file ends exactly where a complete member does
        // More bytes after a complete member: as with gzip -d, they must be another member (cat a.gz b.gz).
        inflateReset(&stream_);
        member_ended_ = false;
        ++members_done_;
      }
      const size_t max_room = std::numeric_limits<decltype(stream_.avail_out)>::max();
      const unsigned room = static_cast<unsigned>(std::min(bytes - total, max_room));
      stream_.next_out = out + total;
      stream_.avail_out = room;
      const int status = inflate(&stream_, Z_NO_FLUSH);
      total += room - stream_.avail_out;
      switch (status) {
        case Z_OK:
          break;
        case Z_STREAM_END:
          member_ended_ = true;
          break;
        case Z_BUF_ERROR:
          // No progress with output room to spare: inflate needs input the file does not have.
          if (stream_.avail_in == 0 && at_eof_) fail("truncated gzip stream: the file ends inside the compressed data");
          fail("gzip decoder made no progress");
        case Z_MEM_ERROR:
          fail("out of memory while decompressing");
        default: {
          const std::string detail = stream_.msg ? stream_.msg : "zlib status " + std::to_string(status);
          // total_out counts this member's output: none yet means its header was already wrong.
          if (members_done_ > 0 && stream_.total_out == 0)
            fail("data after the end of the gzip stream is not another gzip member (" + detail + ")");
          fail("corrupt gzip stream: " + detail);
        }
      }
    }
    return total;
  }

  static constexpr size_t kInputBufferBytes = 256u << 10;

  std::string source_;
  std::unique_ptr<InputFile> file_;  // null when reading from memory
  const uint8_t* memory_ = nullptr;  // the memory not yet handed to stream_
  size_t memory_left_ = 0;
  std::vector<uint8_t> buffer_;
  z_stream stream_{};  // zalloc/zfree/opaque null: zlib's default allocator
  bool at_eof_ = false;
  bool gzip_ = false;
  bool inflate_ready_ = false;
  bool member_ended_ = false;
  int members_done_ = 0;
};

uint32_t big_endian_u32(const uint8_t* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}

// The format itself, the same from a file or from memory.
IdxArray read_array(IdxInput& input) {
  uint8_t magic[4];
  size_t got = input.read(magic, sizeof magic);
  if (got < sizeof magic)
    input.fail("truncated: file holds " + std::to_string(got) + " bytes, too short for the 4-byte IDX magic number");
  if (magic[0] != 0 || magic[1] != 0)
    input.fail("not an IDX file: magic number starts " + hex_byte(magic[0]) + " " + hex_byte(magic[1]) +
               ", expected 0x00 0x00");
  if (magic[2] != kUnsignedByteType)
    input.fail("unsupported element type " + hex_byte(magic[2]) + " (" + idx_type_name(magic[2]) +
               "): only 0x08 (unsigned byte) is supported");
  const int rank = magic[3];
  if (rank < 1 || rank > kMaxRank)
    input.fail("unsupported rank " + std::to_string(rank) + ": expected 1 to " + std::to_string(kMaxRank));

  uint8_t size_bytes[4 * kMaxRank];
  const size_t size_bytes_wanted = 4 * static_cast<size_t>(rank);
  got = input.read(size_bytes, size_bytes_wanted);
  if (got < size_bytes_wanted)
    input.fail("truncated: header declares rank " + std::to_string(rank) + " but the file ends after " +
               std::to_string(got) + " of its " + std::to_string(size_bytes_wanted) + " dimension bytes");

  IdxArray array;
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const int64_t dim = big_endian_u32(size_bytes + 4 * i);
    array.dims.push_back(dim);
    if (dim == 0) input.fail("dimension " + std::to_string(i) + " is 0 (dimensions " + dims_str(array.dims) + ")");
    if (count > std::numeric_limits<int64_t>::max() / dim) {
      for (int j = i + 1; j < rank; ++j) array.dims.push_back(big_endian_u32(size_bytes + 4 * j));
      input.fail("dimensions " + dims_str(array.dims) + " overflow a 64-bit element count");
    }
    count *= dim;
  }
  if (static_cast<uint64_t>(count) > std::numeric_limits<size_t>::max())
    input.fail("dimensions " + dims_str(array.dims) + " exceed the address space");
  const size_t declared = static_cast<size_t>(count);

  // Grow by chunks rather than resizing to `declared`: a corrupt header must not be able to demand gigabytes.
  size_t have = 0;
  for (size_t chunk = kFirstChunkBytes; have < declared; chunk = std::min(2 * chunk, kChunkBytes)) {
    const size_t want = std::min(chunk, declared - have);
    array.values.resize(have + want);
    const size_t chunk_got = input.read(array.values.data() + have, want);
    have += chunk_got;
    if (chunk_got < want) break;
  }
  array.values.resize(have);
  if (have < declared)
    input.fail("truncated: header declares " + std::to_string(declared) + " data bytes (" + dims_str(array.dims) +
               "), file holds " + std::to_string(have));

  // Reading to the end is also what checks the gzip trailer (CRC and length) of the data already returned.
  size_t trailing = 0;
  uint8_t scratch[4096];
  while (size_t extra = input.read(scratch, sizeof scratch)) trailing += extra;
  if (trailing > 0)
    input.fail("trailing data: " + std::to_string(trailing) + " bytes after the " + std::to_string(declared) +
               " data bytes the header declares (" + dims_str(array.dims) + ")");
  return array;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  IdxInput input(path);
  return read_array(input);
}

IdxArray parse_idx(const std::string& bytes, const std::string& source) {
  IdxInput input(bytes, source);
  return read_array(input);
}

}  // namespace loom
