// The kernel scheduler: runs a grid on the calling OS thread, block after block, each block's CUDA threads on fibers.
//
// Most kernels never synchronize, so a fiber runs a block's threads one after another, each to its end, and pays no
// switch per thread. A thread that reaches a barrier, shuffle or vote stays parked on its fiber, and the threads not
// yet started go on on another fiber from the pool; once every thread has started, the scheduler resumes the parked
// threads that the others have released, round after round, until all have exited. The last thread to arrive at a
// barrier releases the others and goes on without parking.
//
// Under ThreadSanitizer every CUDA thread has a fiber, and so a TSan context, of its own, and each block runs on an
// OS thread of its own (its __shared__ variables are then new memory to TSan, as a block's shared memory is on a GPU).
// The scheduler tells TSan of the orderings CUDA guarantees (the launch before every thread, the arrivals at a barrier,
// shuffle or vote before the departures from it, every thread before the end of the grid) and hides its own
// bookkeeping, so that what TSan reports is a race between CUDA threads.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "simulator/device.h"
#include "simulator/fiber.h"
#include "simulator/kernel_language.h"

#if defined(LOOM_SIM_TSAN)
#include <sanitizer/tsan_interface.h>

#include <thread>
extern "C" void __tsan_ignore_thread_begin();  // in every TSan runtime, not in every version's header
extern "C" void __tsan_ignore_thread_end();
#endif

namespace loom::sim {
namespace {

constexpr uint32_t kWarpLanes = 32;
constexpr uint32_t kNone = ~0u;

#if defined(LOOM_SIM_TSAN)
constexpr bool kFiberPerThread = true;  // a fiber reused by a second CUDA thread would order it after the first
#else
constexpr bool kFiberPerThread = false;
#endif
#if defined(LOOM_SIM_TSAN) || defined(LOOM_SIM_ASAN)
constexpr size_t kStackBytes = 256 * 1024;  // sanitized frames are several times larger
#else
constexpr size_t kStackBytes = 64 * 1024;
#endif

#if defined(LOOM_SIM_TSAN)
// Scheduler code run on a CUDA thread's fiber: TSan sees neither its reads nor its writes.
struct HiddenFromTsan {
  HiddenFromTsan() { __tsan_ignore_thread_begin(); }
  ~HiddenFromTsan() { __tsan_ignore_thread_end(); }
};
#define LOOM_SIM_HIDE_FROM_TSAN() HiddenFromTsan hidden_from_tsan
#else
#define LOOM_SIM_HIDE_FROM_TSAN() (void)0
#endif

// ---- the order in which threads (and blocks) run: LOOM_SIM_THREAD_ORDER ----

enum class OrderKind { kForward, kReverse, kRandom };

struct OrderChoice {
  OrderKind kind = OrderKind::kForward;
  uint64_t seed = 0;
};

const OrderChoice& order_choice() {
  static const OrderChoice choice = [] {
    const char* text = std::getenv("LOOM_SIM_THREAD_ORDER");
    const std::string value = text ? text : "forward";
    OrderChoice parsed;
    if (value == "forward") return parsed;
    if (value == "reverse") {
      parsed.kind = OrderKind::kReverse;
      return parsed;
    }
    const std::string prefix = "random:";
    if (value.compare(0, prefix.size(), prefix) == 0 && value.size() > prefix.size() &&
        value.find_first_not_of("0123456789", prefix.size()) == std::string::npos &&
        value.size() <= prefix.size() + 19) {
      parsed.kind = OrderKind::kRandom;
      parsed.seed = std::strtoull(value.c_str() + prefix.size(), nullptr, 10);
      return parsed;
    }
    stop("LOOM_SIM_THREAD_ORDER='" + value + "' is not one of forward, reverse or random:<seed> (a decimal number)");
  }();
  return choice;
}

uint64_t mix(uint64_t x) {  // splitmix64's finalizer: every bit of the input moves every bit of the output
  x += 0x9E3779B97F4A7C15u;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
  return x ^ (x >> 31);
}

// A permutation of [0, count): at(position) is the index of the thread (or block) to run position-th. A random order
// draws no table: a keyed bijection of [0, 2^bits) is applied until it lands inside [0, count) (cycle walking).
class Order {
 public:
  Order(uint64_t count, uint64_t stream) : kind_(order_choice().kind), count_(count) {
    if (kind_ != OrderKind::kRandom) return;
    unsigned bits = 0;
    while ((uint64_t{1} << bits) < count && bits < 63) ++bits;
    mask_ = (uint64_t{1} << bits) - 1;
    shift_ = bits / 2 + 1;
    uint64_t key = mix(order_choice().seed ^ mix(stream));
    for (int round = 0; round < kRounds; ++round) {
      multiplier_[round] = (key = mix(key)) | 1;
      increment_[round] = key = mix(key);
    }
  }

  uint64_t at(uint64_t position) const {
    switch (kind_) {
      case OrderKind::kForward:
        return position;
      case OrderKind::kReverse:
        return count_ - 1 - position;
      case OrderKind::kRandom:
        break;
    }
    uint64_t x = position;
    do {
      for (int round = 0; round < kRounds; ++round) {
        x = (x * multiplier_[round] + increment_[round]) & mask_;
        x ^= x >> shift_;
      }
    } while (x >= count_);
    return x;
  }

 private:
  static constexpr int kRounds = 3;
  OrderKind kind_;
  uint64_t count_;
  uint64_t mask_ = 0;
  unsigned shift_ = 1;
  uint64_t multiplier_[kRounds] = {};
  uint64_t increment_[kRounds] = {};
};

// ---- text for reports ----

std::string site_text(CallSite site) { return std::string(site.file) + ":" + std::to_string(site.line); }

bool same_site(CallSite a, CallSite b) {
  return a.line == b.line && (a.file == b.file || std::strcmp(a.file, b.file) == 0);
}

std::string triple_text(unsigned x, unsigned y, unsigned z) {
  return "(" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

std::string mask_text(unsigned mask) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", mask);
  return text;
}

const char* operation_name(WarpOperation operation) {
  switch (operation) {
    case WarpOperation::kSync:
      return "__syncwarp";
    case WarpOperation::kShuffle:
      return "__shfl_sync";
    case WarpOperation::kShuffleUp:
      return "__shfl_up_sync";
    case WarpOperation::kShuffleDown:
      return "__shfl_down_sync";
    case WarpOperation::kShuffleXor:
      return "__shfl_xor_sync";
    case WarpOperation::kBallot:
      return "__ballot_sync";
    case WarpOperation::kAny:
      return "__any_sync";
    case WarpOperation::kAll:
      return "__all_sync";
  }
  return "a warp operation";
}

bool is_shuffle(WarpOperation operation) {
  return operation == WarpOperation::kShuffle || operation == WarpOperation::kShuffleUp ||
         operation == WarpOperation::kShuffleDown || operation == WarpOperation::kShuffleXor;
}

// ---- one grid, and one block of it at a time ----

struct Grid {
  const LaunchConfig* config = nullptr;
  const std::function<void()>* body = nullptr;
  uint32_t block_threads = 0;
#if defined(LOOM_SIM_TSAN)
  char* launch_sync = nullptr;  // released by the host before the grid, acquired by every CUDA thread when it starts
  char* end_sync = nullptr;     // released by every CUDA thread when it exits, acquired by the host after the grid
#endif
};

// What a parked CUDA thread waits at.
struct Wait {
  bool barrier = false;  // __syncthreads; otherwise a warp operation
  WarpOperation operation = WarpOperation::kSync;
  unsigned mask = 0;
  int lane_argument = 0;
  int width = 0;
  uint64_t value = 0;
  uint64_t result = 0;
  CallSite site{"", 0};
  unsigned arrived = 0;  // for the first lane at a warp operation: the lanes at it so far (a group)
};

enum class ThreadState : uint8_t { kNotStarted, kRunning, kWaiting, kRunnable, kExited };

// Runs blocks on the OS thread that owns it, with its pool of fibers. Whichever context gives up the OS thread (a
// thread parking or exiting, or the host) picks what runs next: a thread not yet started, then a parked thread the
// others have released (in rounds, in the thread order), then the host, which starts the next round.
class BlockRunner {
 public:
  BlockRunner() = default;
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  void run(const Grid& grid, uint64_t block);

  // The device functions, called by the CUDA thread running now.
  void sync_threads(CallSite site);
  uint64_t warp_operation(WarpOperation operation, unsigned mask, uint64_t value, int lane_argument, int width,
                          CallSite site);
  unsigned active_mask() const;

 private:
  static void fiber_main(void* runner);
  void run_threads();
  void begin_thread(uint32_t thread);
  void end_thread(uint32_t thread);
  void set_current(uint32_t thread);
  void switch_to_next(Fiber& from);
  Fiber* make_fiber();
  Fiber* take_fiber();
  void park(uint32_t thread);
  void make_runnable(uint32_t thread);
  void release_barrier();
  void complete_warp_operation(uint32_t warp_base, uint32_t leader);
  void synchronize(uint32_t first, uint32_t count, unsigned mask);
  unsigned existing_lanes(uint32_t warp_base) const;
  [[noreturn]] void report_deadlock() const;
  [[noreturn]] void fail(const std::string& what) const;
  std::string thread_text(uint32_t thread) const;
  std::string wait_text(uint32_t thread) const;

  const Grid* grid_ = nullptr;
  uint32_t threads_ = 0;  // in the block
  dim3 block_dim_;
  uint64_t block_ = 0;
  Order order_{0, 0};        // the order threads start in
  uint32_t next_ = 0;        // position in order_ of the next thread to start
  Order round_order_{0, 0};  // the order parked threads go on in, this round
  uint32_t round_position_ = 0;
  uint32_t runnable_ = 0;
  uint32_t current_ = kNone;
  uint32_t exited_ = 0;
  uint32_t first_exited_ = kNone;
  uint32_t barrier_waiting_ = 0;
  uint32_t barrier_first_ = kNone;  // the first thread waiting at the barrier now
  CallSite barrier_site_{"", 0};
  std::vector<ThreadState> states_ = std::vector<ThreadState>(1024);
  std::vector<Wait> waits_ = std::vector<Wait>(1024);
  std::vector<Fiber*> parked_on_ = std::vector<Fiber*>(1024);
  // Per warp, as lane bit masks: the lanes that have exited, and the first lane of each group waiting at a warp
  // operation (the group's mask and arrivals are in that lane's Wait).
  std::vector<unsigned> exited_lanes_ = std::vector<unsigned>(32);
  std::vector<unsigned> group_leaders_ = std::vector<unsigned>(32);

  Fiber host_;  // the OS thread's own stack, where run() switches from
  Fiber* running_ = nullptr;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::vector<Fiber*> idle_;
};

thread_local BlockRunner* t_runner = nullptr;  // the runner of the block running on this OS thread, if any
thread_local bool t_grid_running = false;

BlockRunner::~BlockRunner() {
#if defined(LOOM_SIM_TSAN)
  // Every fiber lies parked in fiber_main, where TSan is told to look away; a TSan context must not end so.
  void* host = __tsan_get_current_fiber();
  for (const auto& fiber : fibers_) {
    __tsan_switch_to_fiber(fiber->tsan_context(), __tsan_switch_to_fiber_no_sync);
    __tsan_ignore_thread_end();
  }
  __tsan_switch_to_fiber(host, __tsan_switch_to_fiber_no_sync);
#endif
}

void BlockRunner::run(const Grid& grid, uint64_t block) {
  grid_ = &grid;
  const LaunchConfig& config = *grid.config;
  threads_ = grid.block_threads;
  block_dim_ = config.block;
  block_ = block;
  BuiltinVariables& builtins = builtin_variables;
  builtins.block_dim = config.block;
  builtins.grid_dim = config.grid;
  builtins.block_index =
      uint3{static_cast<unsigned>(block % config.grid.x), static_cast<unsigned>(block / config.grid.x % config.grid.y),
            static_cast<unsigned>(block / (uint64_t{config.grid.x} * config.grid.y))};
  std::fill(states_.begin(), states_.begin() + threads_, ThreadState::kNotStarted);
  const uint32_t warps = (threads_ + kWarpLanes - 1) / kWarpLanes;
  std::fill(exited_lanes_.begin(), exited_lanes_.begin() + warps, 0u);
  std::fill(group_leaders_.begin(), group_leaders_.begin() + warps, 0u);
  current_ = first_exited_ = barrier_first_ = kNone;
  exited_ = barrier_waiting_ = runnable_ = 0;
  order_ = Order(threads_, block << 16);
  next_ = 0;
  round_position_ = threads_;  // no round yet: every thread starts first
  t_runner = this;
#if defined(LOOM_SIM_TSAN)
  // Made here, by the host: a fiber made by a CUDA thread would start ordered after everything that thread did.
  while (fibers_.size() < threads_) idle_.push_back(make_fiber());
#endif

  switch_to_next(host_);
  for (uint64_t round = 1; exited_ < threads_; ++round) {
    if (runnable_ == 0) report_deadlock();
    round_order_ = Order(threads_, block << 16 | (round & 0xFFFF));
    round_position_ = 0;
    switch_to_next(host_);
  }
  t_runner = nullptr;
}

void BlockRunner::switch_to_next(Fiber& from) {
  Fiber* to = &host_;
  if (next_ < threads_) {
    to = take_fiber();
  } else {
    while (runnable_ > 0 && round_position_ < threads_) {
      const auto thread = static_cast<uint32_t>(round_order_.at(round_position_++));
      if (states_[thread] != ThreadState::kRunnable) continue;
      --runnable_;
      states_[thread] = ThreadState::kRunning;
      set_current(thread);
      to = parked_on_[thread];
      break;
    }
  }
  if (to == &from) return;
  if (to != &host_) running_ = to;
  switch_fiber(from, *to);
}

void BlockRunner::fiber_main(void* runner) {
  LOOM_SIM_HIDE_FROM_TSAN();
  auto& self = *static_cast<BlockRunner*>(runner);
  for (;;) {
    self.run_threads();
    // Back to the pool (unless each CUDA thread has a fiber of its own), to be taken up again where it parks here.
    Fiber& fiber = *self.running_;
    if (!kFiberPerThread) self.idle_.push_back(&fiber);
    self.switch_to_next(fiber);
  }
}

void BlockRunner::run_threads() {
  while (next_ < threads_) {
    const auto thread = static_cast<uint32_t>(order_.at(next_++));
    begin_thread(thread);
    {
#if defined(LOOM_SIM_TSAN)
      __tsan_ignore_thread_end();  // the kernel's own accesses are what TSan is to see
#endif
      (*grid_->body)();
#if defined(LOOM_SIM_TSAN)
      __tsan_ignore_thread_begin();
#endif
    }
    end_thread(thread);
    if (kFiberPerThread) return;
  }
}

void BlockRunner::set_current(uint32_t thread) {
  current_ = thread;
  uint3& index = builtin_variables.thread_index;
  if (block_dim_.y == 1 && block_dim_.z == 1) {
    index = uint3{thread, 0, 0};
  } else {
    index = uint3{thread % block_dim_.x, thread / block_dim_.x % block_dim_.y, thread / (block_dim_.x * block_dim_.y)};
  }
}

void BlockRunner::begin_thread(uint32_t thread) {
  set_current(thread);
  states_[thread] = ThreadState::kRunning;
#if defined(LOOM_SIM_TSAN)
  __tsan_acquire(grid_->launch_sync);
  const uint3 block = builtin_variables.block_index;  // so that TSan's reports say which CUDA thread raced
  __tsan_set_fiber_name(
      running_->tsan_context(),
      ("CUDA " + thread_text(thread) + " of block " + triple_text(block.x, block.y, block.z)).c_str());
#endif
}

void BlockRunner::end_thread(uint32_t thread) {
#if defined(LOOM_SIM_TSAN)
  __tsan_release(grid_->end_sync);
#endif
  states_[thread] = ThreadState::kExited;
  ++exited_;
  if (first_exited_ == kNone) first_exited_ = thread;
  const uint32_t lane = thread % kWarpLanes, warp = thread / kWarpLanes;
  exited_lanes_[warp] |= 1u << lane;
  if (barrier_waiting_ > 0)
    fail(thread_text(thread) + " exited while " + std::to_string(barrier_waiting_) +
         " thread(s) of its block wait at __syncthreads (" + thread_text(barrier_first_) + " at " +
         site_text(barrier_site_) + "): every thread of a block must reach every __syncthreads");
  for (unsigned leaders = group_leaders_[warp]; leaders != 0; leaders &= leaders - 1) {
    const uint32_t leader = warp * kWarpLanes + static_cast<uint32_t>(__builtin_ctz(leaders));
    if (waits_[leader].mask >> lane & 1u)
      fail(thread_text(thread) + " (lane " + std::to_string(lane) + ") exited while " + wait_text(leader) +
           " names it in its mask");
  }
}

Fiber* BlockRunner::make_fiber() {
  fibers_.push_back(std::make_unique<Fiber>(kStackBytes, &BlockRunner::fiber_main, this));
  return fibers_.back().get();
}

Fiber* BlockRunner::take_fiber() {
  if (idle_.empty()) return make_fiber();
  Fiber* fiber = idle_.back();
  idle_.pop_back();
  return fiber;
}

void BlockRunner::park(uint32_t thread) {
  states_[thread] = ThreadState::kWaiting;
  Fiber& fiber = *running_;
  parked_on_[thread] = &fiber;
  switch_to_next(fiber);
  // Resumed: switch_to_next, in another context, has made this thread current again.
}

void BlockRunner::make_runnable(uint32_t thread) {
  states_[thread] = ThreadState::kRunnable;
  ++runnable_;
}

void BlockRunner::sync_threads(CallSite site) {
  LOOM_SIM_HIDE_FROM_TSAN();
  const uint32_t thread = current_;
  if (first_exited_ != kNone)
    fail(thread_text(thread) + " waits at __syncthreads at " + site_text(site) + ", but " + thread_text(first_exited_) +
         " has exited: every thread of a block must reach every __syncthreads");
  if (barrier_waiting_ == 0) {
    barrier_first_ = thread;
    barrier_site_ = site;
  } else if (!same_site(site, barrier_site_)) {
    fail("threads of one block wait at different __syncthreads: " + thread_text(barrier_first_) + " at " +
         site_text(barrier_site_) + ", " + thread_text(thread) + " at " + site_text(site));
  }
  Wait& wait = waits_[thread];
  wait.barrier = true;
  wait.site = site;
  if (++barrier_waiting_ == threads_) {
    release_barrier();
    return;
  }
  park(thread);
}

void BlockRunner::release_barrier() {
  for (uint32_t thread = 0; thread < threads_; ++thread)
    if (states_[thread] == ThreadState::kWaiting) make_runnable(thread);
  barrier_waiting_ = 0;
  barrier_first_ = kNone;
  synchronize(0, threads_, ~0u);
}

unsigned BlockRunner::existing_lanes(uint32_t warp_base) const {
  const uint32_t lanes = std::min(kWarpLanes, threads_ - warp_base);
  return lanes == kWarpLanes ? ~0u : (1u << lanes) - 1;
}

uint64_t BlockRunner::warp_operation(WarpOperation operation, unsigned mask, uint64_t value, int lane_argument,
                                     int width, CallSite site) {
  LOOM_SIM_HIDE_FROM_TSAN();
  const uint32_t thread = current_;
  const uint32_t lane = thread % kWarpLanes, warp = thread / kWarpLanes, warp_base = warp * kWarpLanes;
  const auto call = [&] {  // built only for a report: this runs once per lane and operation
    return std::string(operation_name(operation)) + " (mask " + mask_text(mask) + ") at " + site_text(site) + " by " +
           thread_text(thread) + " (lane " + std::to_string(lane) + ")";
  };
  if (is_shuffle(operation) && (width < 1 || width > static_cast<int>(kWarpLanes) || (width & (width - 1)) != 0))
    fail(call() + ": width " + std::to_string(width) + " is not a power of two from 1 to 32");
  if (!(mask >> lane & 1u)) fail(call() + ": the calling lane is not in its own mask");
  const unsigned existing = existing_lanes(warp_base);
  if (mask & ~existing) {
    const uint32_t missing = static_cast<uint32_t>(__builtin_ctz(mask & ~existing));
    fail(call() + ": the mask names lane " + std::to_string(missing) + ", which does not exist (the block has " +
         std::to_string(threads_) + " threads, this warp " + std::to_string(__builtin_popcount(existing)) + " lanes)");
  }
  if (mask & exited_lanes_[warp]) {
    const uint32_t gone = static_cast<uint32_t>(__builtin_ctz(mask & exited_lanes_[warp]));
    fail(call() + ": the mask names lane " + std::to_string(gone) + ", " + thread_text(warp_base + gone) +
         ", which has exited");
  }
  Wait& wait = waits_[thread];
  wait.barrier = false;
  wait.operation = operation;
  wait.mask = mask;
  wait.lane_argument = lane_argument;
  wait.width = width;
  wait.value = value;
  wait.site = site;
  // Join the group of lanes at the same operation with the same mask, or start one. Lanes of two groups that each
  // name the other can never both go on. A lane named by this one but waiting, without naming it, at another operation
  // may still come here once that one completes; if it never does, its exit or the deadlock that follows is reported.
  uint32_t group = kNone;
  for (unsigned leaders = group_leaders_[warp]; leaders != 0; leaders &= leaders - 1) {
    const uint32_t leader = warp_base + static_cast<uint32_t>(__builtin_ctz(leaders));
    Wait& theirs = waits_[leader];
    if (theirs.operation == operation && theirs.mask == mask && theirs.width == width) {
      group = leader;
    } else if ((theirs.mask >> lane & 1u) && (theirs.arrived & mask)) {
      const uint32_t other = warp_base + static_cast<uint32_t>(__builtin_ctz(theirs.arrived & mask));
      fail("lanes of one warp at different warp operations or with different masks: " + call() + "; " +
           wait_text(other) +
           (theirs.width != width ? " (widths " + std::to_string(width) + " and " + std::to_string(theirs.width) + ")"
                                  : ""));
    }
  }
  if (group == kNone) {
    group = thread;
    wait.arrived = 0;
    group_leaders_[warp] |= 1u << lane;
  }
  waits_[group].arrived |= 1u << lane;
  if (waits_[group].arrived == mask) {
    complete_warp_operation(warp_base, group);
  } else {
    park(thread);
  }
  return wait.result;
}

void BlockRunner::complete_warp_operation(uint32_t warp_base, uint32_t leader) {
  const unsigned mask = waits_[leader].mask;
  group_leaders_[warp_base / kWarpLanes] &= ~(1u << (leader - warp_base));
  unsigned ballot = 0;
  for (unsigned lanes = mask; lanes != 0; lanes &= lanes - 1) {
    const auto lane = static_cast<uint32_t>(__builtin_ctz(lanes));
    if (waits_[warp_base + lane].value != 0) ballot |= 1u << lane;
  }
  for (unsigned lanes = mask; lanes != 0; lanes &= lanes - 1) {
    const auto lane = static_cast<uint32_t>(__builtin_ctz(lanes));
    const uint32_t thread = warp_base + lane;
    Wait& wait = waits_[thread];
    const auto width = static_cast<uint32_t>(wait.width), first = lane & ~(width - 1), last = first + width - 1;
    const auto argument = static_cast<uint32_t>(wait.lane_argument);
    uint32_t source = lane;
    switch (wait.operation) {
      case WarpOperation::kShuffle:
        source = first | (argument & (width - 1));
        break;
      case WarpOperation::kShuffleUp:
        source = lane - first >= argument ? lane - argument : lane;
        break;
      case WarpOperation::kShuffleDown:
        source = uint64_t{lane} + argument <= last ? lane + argument : lane;
        break;
      case WarpOperation::kShuffleXor:
        source = (lane ^ argument) <= last ? lane ^ argument : lane;  // a later group's lane: its own value
        break;
      case WarpOperation::kBallot:
        wait.result = ballot;
        break;
      case WarpOperation::kAny:
        wait.result = ballot != 0;
        break;
      case WarpOperation::kAll:
        wait.result = ballot == mask;
        break;
      case WarpOperation::kSync:
        wait.result = 0;
        break;
    }
    if (is_shuffle(wait.operation)) {
      if (!(mask >> source & 1u))
        fail(std::string(operation_name(wait.operation)) + " (mask " + mask_text(mask) + ") at " +
             site_text(wait.site) + " by " + thread_text(thread) + " (lane " + std::to_string(lane) + ") reads lane " +
             std::to_string(source) + ", which is not in the mask (its value is undefined)");
      wait.result = waits_[warp_base + source].value;
    }
    if (thread != current_) make_runnable(thread);
  }
  synchronize(warp_base, kWarpLanes, mask);
}

// Under ThreadSanitizer: the arrivals of threads first .. first + count - 1 (those in `mask`, taken cyclically per 32)
// happen before the departure of each of them. Each thread's own TSan context releases, then acquires, a cell made
// for this one synchronization, so that no ordering leaks to threads that synchronize at it later.
void BlockRunner::synchronize(uint32_t first, uint32_t count, unsigned mask) {
#if defined(LOOM_SIM_TSAN)
  char* cell = new char;
  for (int acquiring = 0; acquiring < 2; ++acquiring) {
    for (uint32_t thread = first; thread < first + count; ++thread) {
      if (!(mask >> (thread % kWarpLanes) & 1u)) continue;
      Fiber* fiber = thread == current_ ? running_ : parked_on_[thread];
      __tsan_switch_to_fiber(fiber->tsan_context(), __tsan_switch_to_fiber_no_sync);
      acquiring ? __tsan_acquire(cell) : __tsan_release(cell);
    }
  }
  __tsan_switch_to_fiber(running_->tsan_context(), __tsan_switch_to_fiber_no_sync);
  delete cell;
#else
  (void)first, (void)count, (void)mask;
#endif
}

unsigned BlockRunner::active_mask() const {
  const uint32_t warp_base = current_ - current_ % kWarpLanes;
  return existing_lanes(warp_base) & ~exited_lanes_[warp_base / kWarpLanes];
}

void BlockRunner::report_deadlock() const {
  // One line per place threads wait at (the operation, its mask, the call site): its first thread and how many more.
  struct Place {
    uint32_t first, count;
  };
  std::vector<Place> places;
  const auto same_place = [this](uint32_t a, uint32_t b) {
    const Wait &x = waits_[a], &y = waits_[b];
    return x.barrier == y.barrier && (x.barrier || (x.operation == y.operation && x.mask == y.mask)) &&
           same_site(x.site, y.site);
  };
  for (uint32_t thread = 0; thread < threads_; ++thread) {
    if (states_[thread] != ThreadState::kWaiting) continue;
    auto place =
        std::find_if(places.begin(), places.end(), [&](const Place& p) { return same_place(p.first, thread); });
    if (place == places.end())
      places.push_back({thread, 1});
    else
      ++place->count;
  }
  std::string waits;
  for (size_t i = 0; i < places.size() && i < 8; ++i) {
    waits += "; " + wait_text(places[i].first);
    if (places[i].count > 1) waits += ", and " + std::to_string(places[i].count - 1) + " more there";
  }
  if (places.size() > 8) waits += "; and at " + std::to_string(places.size() - 8) + " more places";
  fail("deadlock: no thread can go on" + waits);
}

std::string BlockRunner::thread_text(uint32_t thread) const {
  const dim3 d = block_dim_;
  return "thread " + triple_text(thread % d.x, thread / d.x % d.y, thread / (d.x * d.y));
}

std::string BlockRunner::wait_text(uint32_t thread) const {
  const Wait& wait = waits_[thread];
  if (wait.barrier) return thread_text(thread) + " waits at __syncthreads at " + site_text(wait.site);
  return thread_text(thread) + " (lane " + std::to_string(thread % kWarpLanes) + ") waits at " +
         operation_name(wait.operation) + " (mask " + mask_text(wait.mask) + ") at " + site_text(wait.site);
}

void BlockRunner::fail(const std::string& what) const {
  const uint3 block = builtin_variables.block_index;
  stop(describe_launch(*grid_->config) + ", block " + triple_text(block.x, block.y, block.z) + ": " + what);
}

BlockRunner& running_block(const char* function, CallSite site) {
  if (!t_runner) stop(std::string(function) + " called outside a kernel at " + site_text(site));
  return *t_runner;
}

}  // namespace

std::string describe_launch(const LaunchConfig& config) {
  return std::string("kernel ") + config.kernel + " launched at " + config.file + ":" + std::to_string(config.line);
}

cudaError_t check_launch(const LaunchConfig& config) {
  const dim3 grid = config.grid, block = config.block;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0)
    return cudaErrorInvalidConfiguration;
  if (uint64_t{block.x} * block.y * block.z > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64)
    return cudaErrorInvalidConfiguration;
  if (grid.x > 0x7FFFFFFFu || grid.y > 65535 || grid.z > 65535) return cudaErrorInvalidConfiguration;
  if (config.dynamic_shared_bytes > 48 * 1024) return cudaErrorInvalidConfiguration;
  return cudaSuccess;
}

void sync_threads(CallSite call_site) { running_block("__syncthreads", call_site).sync_threads(call_site); }

uint64_t warp_operation(WarpOperation operation, unsigned mask, uint64_t value, int lane_argument, int width,
                        CallSite call_site) {
  return running_block(operation_name(operation), call_site)
      .warp_operation(operation, mask, value, lane_argument, width, call_site);
}

unsigned active_mask() {
  if (!t_runner) stop("__activemask called outside a kernel");
  return t_runner->active_mask();
}

void run_grid(const LaunchConfig& config, const std::function<void()>& body) {
  if (t_grid_running)
    stop(describe_launch(config) + " from inside a kernel: kernels launching kernels are not simulated");
  if (check_launch(config) != cudaSuccess)
    stop(describe_launch(config) + " with a configuration CUDA refuses: the launch should have failed");
  Grid grid;
  grid.config = &config;
  grid.body = &body;
  grid.block_threads = config.block.x * config.block.y * config.block.z;
  const uint64_t blocks = uint64_t{config.grid.x} * config.grid.y * config.grid.z;
  const Order block_order(blocks, ~uint64_t{0});
  t_grid_running = true;
#if defined(LOOM_SIM_TSAN)
  grid.launch_sync = new char;
  grid.end_sync = new char;
  __tsan_release(grid.launch_sync);
  for (uint64_t position = 0; position < blocks; ++position) {
    std::thread block_thread([&grid, &block_order, position] {
      __tsan_ignore_thread_begin();
      t_grid_running = true;
      {
        BlockRunner runner;
        runner.run(grid, block_order.at(position));
      }
      __tsan_ignore_thread_end();
    });
    block_thread.join();
  }
  __tsan_acquire(grid.end_sync);
  delete grid.launch_sync;
  delete grid.end_sync;
#else
  static thread_local BlockRunner runner;  // and its pool of fibers, for every grid this OS thread runs
  for (uint64_t position = 0; position < blocks; ++position) runner.run(grid, block_order.at(position));
#endif
  t_grid_running = false;
}

}  // namespace loom::sim
