// Counts every allocation through operator new in the test binary, so that a test can see a stretch of code make
// none (a CPU training step). Not in sanitized builds (tests/CMakeLists.txt): there LOOM_COUNTS_ALLOCATIONS is unset
// and the tests that count skip. allocation_counter.cpp replaces the global operator new and delete, the standard's own
// hook; the count costs one atomic add per allocation. Kept in a file of its own: where the compiler sees both the
// replacement and an allocation inlined, GCC takes the malloc/free pairing for a mismatch.
#pragma once

#include <cstdint>

namespace loom::test {

int64_t operator_new_calls();

}  // namespace loom::test
