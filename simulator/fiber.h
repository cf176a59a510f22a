// Fibers: stacks of their own that one OS thread switches between, each suspended where it last switched away. The
// kernel scheduler runs CUDA threads on them, so that a thread waiting at a barrier keeps its place while the others
// run. On x86-64 a switch saves and restores only what the ABI says a call preserves (no system call, unlike glibc's
// swapcontext); elsewhere ucontext does it. AddressSanitizer and ThreadSanitizer are told of every switch.
#pragma once

#include <cstddef>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#include "simulator/sanitizers.h"

namespace loom::sim {

class Fiber {
 public:
  using Entry = void (*)(void* argument);

  // The calling OS thread's own stack, as a context to switch away from and back to.
  Fiber();
  // A new stack of `stack_bytes` (plus a guard page below it) that starts in entry(argument) at its first resumption.
  // `entry` must never return: a fiber ends by switching away for good, and is destroyed from another context.
  Fiber(size_t stack_bytes, Entry entry, void* argument);
  ~Fiber();

  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

#if defined(LOOM_SIM_TSAN)
  // The ThreadSanitizer context of this fiber: its own "thread" to TSan, with its own clock.
  void* tsan_context() const { return tsan_context_; }
#endif

 private:
  friend void switch_fiber(Fiber& from, Fiber& to);
  static void start(Fiber* fiber);

  Entry entry_ = nullptr;
  void* argument_ = nullptr;
  char* mapping_ = nullptr;  // guard page and stack, or null for an OS thread's stack
  size_t mapping_bytes_ = 0;
#if defined(__x86_64__)
  void* stack_pointer_ = nullptr;  // where the suspended context's saved registers lie
#else
  ucontext_t context_;
#endif
#if defined(LOOM_SIM_ASAN)
  const void* stack_bottom_ = nullptr;  // for ASan; an OS thread's is learnt when the first switch leaves it
  size_t stack_size_ = 0;
#endif
#if defined(LOOM_SIM_TSAN)
  void* tsan_context_ = nullptr;
  bool owns_tsan_context_ = false;
#endif
};

// Suspends `from`, which must be the running context, and resumes `to` where it last left off (or at its entry).
// Returns when something switches back to `from`.
void switch_fiber(Fiber& from, Fiber& to);

}  // namespace loom::sim
