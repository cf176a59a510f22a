// The simulated device's memory. Each cudaMalloc block ends its own mapping, followed by an inaccessible guard page,
// and is filled with 0xFF bytes (NaN as floats) so a read of memory never written shows. Device memory is
// inaccessible to host code except while the executor runs queued work, so host code that dereferences a device
// pointer faults; a fault handler turns such faults, and reads past the end of a block, into one clear line.
#pragma once

#include <cstddef>
#include <string>

namespace loom::sim {

// An H100's memory: what cudaMemGetInfo and cudaGetDeviceProperties report, and the most cudaMalloc hands out.
inline constexpr size_t kDeviceMemoryBytes = size_t(80) << 30;

// A new block of `bytes` (0 < bytes), 256-byte aligned, or nullptr when the device's memory or the host's is
// exhausted.
void* allocate_device(size_t bytes);

// Releases the block that starts at `pointer`; false when no live block starts there. The address range stays
// reserved and inaccessible for a while, so work that still uses the block faults with a report naming it.
bool free_device(void* pointer);

// The bytes held by live blocks (each counted in whole 256-byte units).
size_t live_device_bytes();

// Whether `pointer` lies inside a live block (the rest of the range may not).
bool inside_device_block(const void* pointer);

// Makes every live block accessible (while the executor runs queued work) or inaccessible again.
void set_device_memory_accessible(bool accessible);

// What the executor is running, named in the report of a fault inside it; nullptr outside queued work.
void set_running_operation(const std::string* what);

// Gives the calling OS thread a signal stack of its own (once), so that a fault reported while it runs device work
// is reported even when a CUDA thread's fiber stack has overflowed.
void ensure_fault_stack();

// Stops the run when an operation wrote into the bytes between a block's end and its guard page (the 256-byte
// alignment leaves up to 255 there, which no page protection covers): they hold 0xFF from the allocation until then.
// The executor calls it after each operation, naming it in `what`. (Under AddressSanitizer those bytes are poisoned
// instead, and a write there is reported at once.)
void check_block_ends(const std::string& what);

// Pinned host memory (cudaMallocHost): plain host memory, remembered so copies know what it is, and filled with 0xFF
// bytes when allocated, so a host read of results that have not landed yet reads NaN rather than a plausible zero.
void* allocate_pinned(size_t bytes);
bool free_pinned(void* pointer);  // false when no pinned allocation starts at `pointer`
bool is_pinned_range(const void* pointer, size_t bytes);

}  // namespace loom::sim
