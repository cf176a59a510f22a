#include "simulator/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

#include "simulator/pages.h"

#if defined(LOOM_SIM_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(LOOM_SIM_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

#if defined(__x86_64__)
// loom_sim_switch_stack(save, next): pushes the registers a call preserves (rbp, rbx, r12-r15, then MXCSR and the x87
// control word, whose control bits the ABI also makes callee-saved), stores the stack pointer in *save, loads `next`
// and pops the same from there. A new fiber's stack is laid out as if it had called this function from
// loom_sim_fiber_trampoline, which passes r12 to the function in r13.
asm(R"(
  .pushsection .text
  .globl loom_sim_switch_stack
  .hidden loom_sim_switch_stack
  .type loom_sim_switch_stack, @function
  .p2align 4
loom_sim_switch_stack:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size loom_sim_switch_stack, .-loom_sim_switch_stack

  .globl loom_sim_fiber_trampoline
  .hidden loom_sim_fiber_trampoline
  .type loom_sim_fiber_trampoline, @function
  .p2align 4
loom_sim_fiber_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  xorl %ebp, %ebp
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size loom_sim_fiber_trampoline, .-loom_sim_fiber_trampoline
  .popsection
)");

extern "C" void loom_sim_switch_stack(void** save, void* next);
extern "C" void loom_sim_fiber_trampoline();
#endif

namespace loom::sim {
namespace {

#if defined(LOOM_SIM_ASAN)
// The context a switch leaves: the one it lands in learns that context's stack from ASan (an OS thread's stack bounds
// are known only this way).
thread_local Fiber* t_leaving = nullptr;
#endif
#if !defined(__x86_64__)
thread_local Fiber* t_starting = nullptr;  // makecontext passes int arguments only
#endif

}  // namespace

Fiber::Fiber() {
#if defined(LOOM_SIM_TSAN)
  tsan_context_ = __tsan_get_current_fiber();
#endif
}

Fiber::Fiber(size_t stack_bytes, Entry entry, void* argument) : entry_(entry), argument_(argument) {
  const size_t page = page_bytes();
  const size_t stack = (stack_bytes + page - 1) / page * page;
  mapping_bytes_ = page + stack;
  void* mapping = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) throw std::bad_alloc();
  mapping_ = static_cast<char*>(mapping);
  // A kernel that overflows its stack faults on the guard page instead of writing over another fiber's stack.
  mprotect(mapping_, page, PROT_NONE);
  char* const top = mapping_ + mapping_bytes_;
#if defined(__x86_64__)
  // The frame loom_sim_switch_stack pops: control words, r15, r14, r13, r12, rbx, rbp, return address; the stack
  // pointer 16-byte aligned after the return, as a call site leaves it.
  auto* frame = reinterpret_cast<uint64_t*>(top - 80);
  frame[0] = 0x1F80u | (uint64_t{0x037Fu} << 32);  // MXCSR and x87 control word at power-on: round to nearest, no traps
  frame[1] = frame[2] = 0;
  frame[3] = reinterpret_cast<uint64_t>(&Fiber::start);
  frame[4] = reinterpret_cast<uint64_t>(this);
  frame[5] = frame[6] = 0;
  frame[7] = reinterpret_cast<uint64_t>(&loom_sim_fiber_trampoline);
  stack_pointer_ = frame;
#else
  getcontext(&context_);
  context_.uc_stack.ss_sp = mapping_ + page;
  context_.uc_stack.ss_size = stack;
  context_.uc_link = nullptr;
  makecontext(
      &context_, [] { Fiber::start(t_starting); }, 0);
#endif
#if defined(LOOM_SIM_ASAN)
  stack_bottom_ = mapping_ + page;
  stack_size_ = stack;
#endif
#if defined(LOOM_SIM_TSAN)
  tsan_context_ = __tsan_create_fiber(0);
  owns_tsan_context_ = true;
#endif
  (void)top;
}

Fiber::~Fiber() {
#if defined(LOOM_SIM_TSAN)
  if (owns_tsan_context_) __tsan_destroy_fiber(tsan_context_);
#endif
  if (!mapping_) return;
#if defined(LOOM_SIM_ASAN)
  // The frames the fiber was suspended in leave poisoned redzones that would outlive the mapping.
  __asan_unpoison_memory_region(mapping_ + page_bytes(), mapping_bytes_ - page_bytes());
#endif
  munmap(mapping_, mapping_bytes_);
}

void Fiber::start(Fiber* fiber) {
#if defined(LOOM_SIM_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &t_leaving->stack_bottom_, &t_leaving->stack_size_);
#endif
  fiber->entry_(fiber->argument_);
  __builtin_trap();  // an entry must switch away for good, never return
}

void switch_fiber(Fiber& from, Fiber& to) {
#if defined(LOOM_SIM_ASAN)
  void* fake_stack = nullptr;
  __sanitizer_start_switch_fiber(&fake_stack, to.stack_bottom_, to.stack_size_);
  t_leaving = &from;
#endif
#if defined(LOOM_SIM_TSAN)
  // No happens-before from switching itself: CUDA threads are ordered only by what the scheduler says they are.
  __tsan_switch_to_fiber(to.tsan_context_, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(__x86_64__)
  loom_sim_switch_stack(&from.stack_pointer_, to.stack_pointer_);
#else
  t_starting = &to;
  swapcontext(&from.context_, &to.context_);
#endif
#if defined(LOOM_SIM_ASAN)
  __sanitizer_finish_switch_fiber(fake_stack, &t_leaving->stack_bottom_, &t_leaving->stack_size_);
#endif
}

}  // namespace loom::sim
