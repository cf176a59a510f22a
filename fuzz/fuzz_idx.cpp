// The IDX reader (engine/data/idx_reader.h) on any bytes, raw or gzip: a loom::Error, or an array that keeps the
// reader's promises (1 to 4 dimensions, each positive, exactly their product of values).
#include <cstddef>
#include <cstdint>

#include "engine/data/idx_reader.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace loom;
  fuzz::expect_loom_errors([&] {
    const IdxArray array = parse_idx(fuzz::bytes_of(data, size), "fuzz input");
    fuzz::check(!array.dims.empty() && array.dims.size() <= 4,
                "an IDX array of rank " + std::to_string(array.dims.size()));
    uint64_t count = 1;
    for (int64_t dim : array.dims) {
      fuzz::check(dim > 0, "an IDX dimension of " + std::to_string(dim));
      count *= static_cast<uint64_t>(dim);
    }
    fuzz::check(count == array.values.size(), "an IDX array of " + std::to_string(array.values.size()) +
                                                  " values for " + std::to_string(count) + " declared");
  });
  return 0;
}
