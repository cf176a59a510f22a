#include "simulator/device_memory.h"

#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "simulator/device.h"
#include "simulator/pages.h"
#include "simulator/runtime_guard.h"
#include "simulator/sanitizers.h"

#ifdef LOOM_SIM_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace loom::sim {
namespace {

constexpr size_t kAlignment = 256;  // what cudaMalloc guarantees
// Freed blocks whose address ranges stay reserved (and inaccessible) before they go back to the system.
constexpr size_t kFreedBlocksKept = 4096;

size_t round_up(size_t value, size_t unit) { return (value + unit - 1) / unit * unit; }

// One cudaMalloc block: `bytes` at `data`, the last 256-byte-aligned place in [region, guard), then a guard page.
struct Block {
  char* region = nullptr;
  size_t usable_bytes = 0;  // the accessible part of the region, before the guard page
  char* data = nullptr;
  size_t bytes = 0;
  char* guard() const { return region + usable_bytes; }
  size_t mapped_bytes() const { return usable_bytes + page_bytes(); }
  bool holds(uintptr_t address) const {
    return address >= reinterpret_cast<uintptr_t>(region) &&
           address < reinterpret_cast<uintptr_t>(region) + mapped_bytes();
  }
};

// The memory's bookkeeping. Read without a lock by the fault handler, which runs on a thread that may hold the
// runtime's lock; every change happens under that lock, on a thread that is not faulting.
struct Memory {
  std::map<uintptr_t, Block> live;   // by region start
  std::map<uintptr_t, Block> freed;  // by region start, kept reserved
  std::deque<uintptr_t> freed_order;
  size_t live_bytes = 0;
  bool accessible = false;
  const std::string* running = nullptr;
  std::map<uintptr_t, size_t> pinned;  // by start: bytes
};

Memory& memory() {
  static auto* state = new Memory();  // never destroyed: blocks may be freed from static destructors
  return *state;
}

const Block* find_in(const std::map<uintptr_t, Block>& blocks, uintptr_t address) {
  auto after = blocks.upper_bound(address);
  if (after == blocks.begin()) return nullptr;
  const Block& block = std::prev(after)->second;
  return block.holds(address) ? &block : nullptr;
}

void poison_slack(const Block& block, bool poison) {
#ifdef LOOM_SIM_ASAN
  // The bytes around the block that the guard page cannot cover (the 256-byte alignment leaves up to 255 after it).
  char* end = block.data + block.bytes;
  if (poison) {
    ASAN_POISON_MEMORY_REGION(block.region, static_cast<size_t>(block.data - block.region));
    ASAN_POISON_MEMORY_REGION(end, static_cast<size_t>(block.guard() - end));
  } else {
    ASAN_UNPOISON_MEMORY_REGION(block.region, block.usable_bytes);
  }
#else
  (void)block;
  (void)poison;
#endif
}

// ---- the fault handler ----

struct sigaction previous_segv_action, previous_bus_action;

const char* access_verb(void* context) {
#if defined(__x86_64__) && defined(REG_ERR)
  // Bit 1 of the page-fault error code says whether the faulting access was a write.
  const auto* state = static_cast<const ucontext_t*>(context);
  return (state->uc_mcontext.gregs[REG_ERR] & 2) ? "wrote" : "read";
#else
  (void)context;
  return "accessed";
#endif
}

void pass_on(int signal_number, siginfo_t* info, void* context) {
  const struct sigaction& previous = signal_number == SIGSEGV ? previous_segv_action : previous_bus_action;
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal_number, info, context);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal_number);
    return;
  }
  // Returning retries the access, which now ends the process as it would have without this handler.
  signal(signal_number, SIG_DFL);
}

void on_fault(int signal_number, siginfo_t* info, void* context) {
  const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  const Memory& state = memory();
  bool freed = false;
  const Block* block = find_in(state.live, address);
  if (!block) {
    block = find_in(state.freed, address);
    freed = block != nullptr;
  }
  if (!block) {
    // Outside device memory, in device work: a wild pointer of a kernel or library call, or a CUDA thread overflowing
    // its fiber's stack (the handler runs on a stack of its own, so that one can be told too). Said before the fault
    // goes on to the previous handler (a sanitizer's report) or ends the process.
    if (state.running) {
      char line[1024];
      std::snprintf(line, sizeof line,
                    "loom CUDA simulator: device work faulted at %p, outside device memory (a wild pointer, or a CUDA "
                    "thread overflowing its stack), in %s\n",
                    info->si_addr, state.running->c_str());
      const ssize_t written = write(STDERR_FILENO, line, std::strlen(line));
      (void)written;
    }
    pass_on(signal_number, info, context);
    return;
  }
  const uintptr_t start = reinterpret_cast<uintptr_t>(block->data);
  const uintptr_t end = start + block->bytes;
  const char* who = state.running ? "device work" : "host code";
  const char* verb = access_verb(context);
  char where[160] = "";
  if (freed) {
    std::snprintf(where, sizeof where, " in a %zu-byte cudaMalloc block already freed by cudaFree", block->bytes);
  } else if (address < start) {
    std::snprintf(where, sizeof where, " (%" PRIuPTR " bytes before the start of a %zu-byte cudaMalloc block)",
                  start - address, block->bytes);
  } else if (address >= end) {
    std::snprintf(where, sizeof where, " (%" PRIuPTR " bytes past the end of a %zu-byte cudaMalloc block)",
                  address - end, block->bytes);
  } else {
    std::snprintf(where, sizeof where, " (byte %" PRIuPTR " of a %zu-byte cudaMalloc block)", address - start,
                  block->bytes);
  }
  char line[1024];
  if (state.running) {
    std::snprintf(line, sizeof line, "loom CUDA simulator: %s %s device memory at %p%s, in %s\n", who, verb,
                  info->si_addr, where, state.running->c_str());
  } else if (!freed && address >= start && address < end) {
    std::snprintf(line, sizeof line,
                  "loom CUDA simulator: %s %s device memory at %p%s: copy it to the host with cudaMemcpy first\n", who,
                  verb, info->si_addr, where);
  } else {
    std::snprintf(line, sizeof line, "loom CUDA simulator: %s %s device memory at %p%s\n", who, verb, info->si_addr,
                  where);
  }
  const ssize_t written = write(STDERR_FILENO, line, std::strlen(line));
  (void)written;
  std::abort();
}

void install_fault_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv_action);
    sigaction(SIGBUS, &action, &previous_bus_action);
  });
}

void protect(const Block& block, bool accessible) {
  if (mprotect(block.region, block.usable_bytes, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) != 0)
    stop("mprotect of a cudaMalloc block failed: " + std::string(std::strerror(errno)));
}

}  // namespace

void ensure_fault_stack() {
  // One per OS thread that runs device work (under the runtime's lock), never freed: the thread may fault until it
  // ends. Kept in a list that is never freed either, so that a leak checker sees them held.
  static thread_local bool ready = false;
  if (ready) return;
  ready = true;
  static auto* stacks = new std::vector<std::unique_ptr<char[]>>();
  stack_t stack{};
  stack.ss_size = 64 * 1024;
  stacks->push_back(std::make_unique<char[]>(stack.ss_size));
  stack.ss_sp = stacks->back().get();
  sigaltstack(&stack, nullptr);
}

void* allocate_device(size_t bytes) {
  Memory& state = memory();
  const size_t counted = round_up(bytes, kAlignment);
  if (bytes == 0 || counted > kDeviceMemoryBytes - state.live_bytes) return nullptr;
  // The block is filled at once, so it must fit in the host's free memory too: a request the simulated device could
  // grant but this machine cannot fails as an out-of-memory error rather than by the kernel's OOM killer.
  if (counted > available_host_bytes()) return nullptr;
  install_fault_handler();
  Block block;
  block.usable_bytes = round_up(bytes, page_bytes());
  void* region = mmap(nullptr, block.usable_bytes + page_bytes(), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return nullptr;
  block.region = static_cast<char*>(region);
  block.data = block.guard() - counted;
  block.bytes = bytes;
  std::memset(block.region, 0xFF, block.usable_bytes);
  if (mprotect(block.guard(), page_bytes(), PROT_NONE) != 0) stop("mprotect of a guard page failed");
  protect(block, state.accessible);
  poison_slack(block, true);
  state.live.emplace(reinterpret_cast<uintptr_t>(block.region), block);
  state.live_bytes += counted;
  return block.data;
}

bool free_device(void* pointer) {
  Memory& state = memory();
  const Block* found = find_in(state.live, reinterpret_cast<uintptr_t>(pointer));
  if (!found || found->data != pointer) return false;
  const Block block = *found;
  state.live.erase(reinterpret_cast<uintptr_t>(block.region));
  state.live_bytes -= round_up(block.bytes, kAlignment);
  poison_slack(block, false);
  protect(block, false);
  madvise(block.region, block.usable_bytes, MADV_DONTNEED);  // the pages go; the addresses stay reserved
  state.freed.emplace(reinterpret_cast<uintptr_t>(block.region), block);
  state.freed_order.push_back(reinterpret_cast<uintptr_t>(block.region));
  if (state.freed_order.size() > kFreedBlocksKept) {
    const auto oldest = state.freed.find(state.freed_order.front());
    munmap(oldest->second.region, oldest->second.mapped_bytes());
    state.freed.erase(oldest);
    state.freed_order.pop_front();
  }
  return true;
}

size_t live_device_bytes() { return memory().live_bytes; }

bool operand_on_device(const char* call, const char* operand, const void* pointer, size_t bytes) {
  if (is_device_range(pointer, bytes)) return true;
  device_fault(cudaErrorIllegalAddress, std::string(call) + ": operand " + operand + " (" + std::to_string(bytes) +
                                            " bytes) is not in device memory");
  return false;
}

bool kernel_may_access(const void* pointer) {
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());
  return pointer == nullptr || is_device_range(pointer, 0) || is_pinned_range(pointer, 0);
}

bool is_device_range(const void* pointer, size_t bytes) {
  std::lock_guard<std::recursive_mutex> lock(runtime_mutex());  // the library stand-ins call it from their threads
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  const Block* block = find_in(memory().live, address);
  if (!block) return false;
  const uintptr_t start = reinterpret_cast<uintptr_t>(block->data);
  return address >= start && bytes <= block->bytes && address - start <= block->bytes - bytes;
}

bool inside_device_block(const void* pointer) { return is_device_range(pointer, 1); }

void set_device_memory_accessible(bool accessible) {
  Memory& state = memory();
  if (state.accessible == accessible) return;
  for (const auto& entry : state.live) protect(entry.second, accessible);
  state.accessible = accessible;
}

void set_running_operation(const std::string* what) { memory().running = what; }

void check_block_ends(const std::string& what) {
#ifndef LOOM_SIM_ASAN
  for (const auto& entry : memory().live) {
    const Block& block = entry.second;
    const unsigned char* end = reinterpret_cast<const unsigned char*>(block.data + block.bytes);
    const size_t slack = static_cast<size_t>(reinterpret_cast<const unsigned char*>(block.guard()) - end);
    for (size_t i = 0; i < slack; ++i)
      if (end[i] != 0xFF)
        stop(what + " wrote past the end of a " + std::to_string(block.bytes) + "-byte cudaMalloc block (at byte " +
             std::to_string(block.bytes + i) + " of it)");
  }
#else
  (void)what;
#endif
}

void* allocate_pinned(size_t bytes) {
  void* pointer = nullptr;
  if (bytes == 0 || posix_memalign(&pointer, page_bytes(), bytes) != 0) return nullptr;
  std::memset(pointer, 0xFF, bytes);
  memory().pinned.emplace(reinterpret_cast<uintptr_t>(pointer), bytes);
  return pointer;
}

bool free_pinned(void* pointer) {
  if (memory().pinned.erase(reinterpret_cast<uintptr_t>(pointer)) == 0) return false;
  std::free(pointer);
  return true;
}

bool is_pinned_range(const void* pointer, size_t bytes) {
  const auto& pinned = memory().pinned;
  const uintptr_t address = reinterpret_cast<uintptr_t>(pointer);
  auto after = pinned.upper_bound(address);
  if (after == pinned.begin()) return false;
  const auto& [start, size] = *std::prev(after);
  return address - start < size && bytes <= size - (address - start);
}

}  // namespace loom::sim
