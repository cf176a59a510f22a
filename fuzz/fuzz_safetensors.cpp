// The safetensors reader (engine/io/safetensors.h) on any bytes: a loom::Error, or a file that keeps the reader's
// promises. Its tensors cover the data buffer exactly, in offset order, each of numel · dtype size bytes; every
// value can be read; and loom's writer, given what was read, writes a file that reads back the same.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/io/safetensors.h"
#include "fuzz/fuzz_support.h"

namespace {

using namespace loom;

uint64_t header_length(const std::string& bytes) {
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<unsigned char>(bytes[i]);
  return n;
}

void check_same(const SafetensorsFile& a, const SafetensorsFile& b) {
  fuzz::check(a.metadata() == b.metadata(), "the metadata changed on a write and read back");
  fuzz::check(a.tensors().size() == b.tensors().size(), "the tensor count changed on a write and read back");
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const SafetensorsTensor &x = a.tensors()[i], &y = b.tensors()[i];
    fuzz::check(x.name == y.name && x.dtype == y.dtype && x.shape == y.shape && x.offset == y.offset &&
                    x.bytes == y.bytes && std::memcmp(a.data(x), b.data(y), x.bytes) == 0,
                "tensor " + std::to_string(i) + " changed on a write and read back");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = fuzz::bytes_of(data, size);
  fuzz::expect_loom_errors([&] {
    const SafetensorsFile file = SafetensorsFile::parse(bytes, "fuzz input");
    size_t covered = 0;
    for (const SafetensorsTensor& tensor : file.tensors()) {
      fuzz::check(tensor.offset == covered, "tensor '" + tensor.name + "' leaves a gap or overlaps");
      uint64_t numel = 1;
      for (int64_t dim : tensor.shape) {
        fuzz::check(dim >= 0, "tensor '" + tensor.name + "' has a negative dimension");
        numel *= static_cast<uint64_t>(dim);
      }
      fuzz::check(numel * dtype_size(tensor.dtype) == tensor.bytes,
                  "tensor '" + tensor.name + "' has " + std::to_string(tensor.bytes) + " bytes");
      covered += tensor.bytes;
      fuzz::check(file.find(tensor.name) == &tensor, "find('" + tensor.name + "') is another tensor");
      // Every byte is read, so that a tensor outside the buffer is a sanitizer report.
      unsigned sum = 0;
      for (size_t i = 0; i < tensor.bytes; ++i) sum += static_cast<unsigned char>(file.data(tensor)[i]);
      (void)sum;
      if (tensor.dtype == DType::F32) {
        fuzz::check(file.floats(tensor).size() == numel, "floats('" + tensor.name + "') has another size");
      } else {
        bool refused = false;
        try {
          file.floats(tensor);
        } catch (const Error&) {
          refused = true;
        }
        fuzz::check(refused,
                    "floats() read the " + std::string(dtype_name(tensor.dtype)) + " tensor '" + tensor.name + "'");
      }
    }
    fuzz::check(8 + header_length(bytes) + covered == bytes.size(), "the tensors do not cover the data buffer");

    // What the reader accepted, the writer must take, and its file must read back the same.
    try {
      SafetensorsWriter writer;
      for (const SafetensorsTensor& tensor : file.tensors())
        writer.add(tensor.name, tensor.dtype, tensor.shape, file.data(tensor));
      for (const auto& [key, value] : file.metadata()) writer.set_metadata(key, value);
      check_same(file, SafetensorsFile::parse(writer.serialize(), "fuzz input, written again"));
    } catch (const Error& e) {
      fuzz::check(false, std::string("a file that was read cannot be written back: ") + e.what());
    }
  });
  return 0;
}
