// The CUDA language, for CUDA source compiled as C++ by g++ or clang to run on the simulator: force-included (-include)
// before every .cu file of the simulator flavour, it gives such a file what nvcc would (simulator/README.md). The real
// CUDA headers give the types (dim3, cudaError_t, cudaStream_t); this header takes back the keywords they leave to
// nvcc, serves threadIdx and the other built-in variables from the CUDA thread the scheduler is running, defines the
// device functions (barriers, warp shuffles and votes, atomics, intrinsics) and the launch LOOM_LAUNCH expands to.
// Every call that synchronizes CUDA threads records where it was made, for the scheduler's reports.
#pragma once

#include <cuda_runtime.h>
#include <math.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "simulator/device.h"

// ---- keywords ----

#undef __global__
#undef __device__
#undef __host__
#undef __shared__
#undef __constant__
#undef __managed__
#undef __forceinline__
#undef __launch_bounds__
#undef __grid_constant__
#define __global__
#define __device__
#define __host__
// One instance per OS thread: the CUDA threads of a block run on one OS thread, one block at a time, so they share it
// as a block shares its shared memory. Like shared memory, it starts each block with what the last one left.
#define __shared__ static thread_local
#define __constant__
#define __managed__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __grid_constant__

// ---- built-in variables ----

namespace loom::sim {

// The indices of the CUDA thread running now on this OS thread, written by the scheduler before it runs or resumes
// one. An inline variable with a constant initializer: every file reads it directly, with no initialization check.
struct BuiltinVariables {
  uint3 thread_index{0, 0, 0};
  uint3 block_index{0, 0, 0};
  dim3 block_dim{1, 1, 1};
  dim3 grid_dim{1, 1, 1};
};
inline thread_local BuiltinVariables builtin_variables;

}  // namespace loom::sim

// Read-only to kernels, as on a GPU. CUDA's own declarations of these (device_launch_parameters.h) are for nvcc alone:
// its include guard is set so that a file including it gets these instead.
#define __DEVICE_LAUNCH_PARAMETERS_H__
#define threadIdx (static_cast<const uint3&>(::loom::sim::builtin_variables.thread_index))
#define blockIdx (static_cast<const uint3&>(::loom::sim::builtin_variables.block_index))
#define blockDim (static_cast<const dim3&>(::loom::sim::builtin_variables.block_dim))
#define gridDim (static_cast<const dim3&>(::loom::sim::builtin_variables.grid_dim))
inline constexpr int warpSize = 32;

// ---- what the device functions ask of the scheduler (simulator/kernel_scheduler.cpp) ----

namespace loom::sim {

// Where a synchronizing call was made: each such function takes one as a last parameter defaulting to here(), which
// g++ and clang evaluate with the caller's file and line.
struct CallSite {
  const char* file;
  int line;
  static constexpr CallSite here(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
    return CallSite{file, line};
  }
};
#define LOOM_SIM_CALL_SITE ::loom::sim::CallSite call_site = ::loom::sim::CallSite::here()

enum class WarpOperation : int { kSync, kShuffle, kShuffleUp, kShuffleDown, kShuffleXor, kBallot, kAny, kAll };

// __syncthreads: returns when every thread of the block has reached it.
void sync_threads(CallSite call_site);
// A warp-wide operation over the lanes of `mask`: returns when every one of them has reached the same operation with
// the same mask (as PTX's .sync instructions, wherever in the code each calls it), with the result for this lane (a
// shuffle's value read from another lane, a vote's result). `value` is this lane's operand, its bytes widened to 64
// bits; `lane_argument` a shuffle's source lane, delta or lane mask.
uint64_t warp_operation(WarpOperation operation, unsigned mask, uint64_t value, int lane_argument, int width,
                        CallSite call_site);
// The lanes of this warp that exist and have not exited.
unsigned active_mask();

template <class T>
uint64_t to_bits(T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t),
                "warp shuffles exchange values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return bits;
}

template <class T>
T from_bits(uint64_t bits) {
  T value;
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// ---- the launch LOOM_LAUNCH (engine/runtime/cuda_launch.cuh) expands to ----

// "kernel relu_kernel launched at kernels/relu_cuda.cu:12", for the runtime's reports.
std::string describe_launch(const LaunchConfig& config);

inline dim3 launch_dimensions(dim3 dimensions) { return dimensions; }
inline dim3 launch_dimensions(uint3 dimensions) { return dim3(dimensions); }
template <class Integer, class = std::enable_if_t<std::is_integral_v<Integer>>>
dim3 launch_dimensions(Integer count) {
  return dim3(static_cast<unsigned>(count));  // as CUDA converts an integer to dim3: a negative count is huge
}

template <class... Parameters>
class KernelLaunch {
 public:
  KernelLaunch(void (*kernel)(Parameters...), const LaunchConfig& config) : kernel_(kernel), config_(config) {}

  // As on a GPU: the arguments are copied, converted to the kernel's parameter types, when the kernel is launched;
  // every CUDA thread then runs on its own copy of them. The work queued owns the launch's copy, since it may run
  // later (streams defer work) or many times (a captured graph replays it).
  template <class... Arguments>
  void operator()(Arguments&&... arguments) const {
    static_assert(sizeof...(Arguments) == sizeof...(Parameters),
                  "a kernel launched with the wrong number of arguments");
    const cudaError_t status = check_launch(config_);
    if (status != cudaSuccess) {
      set_last_error(status);
      return;
    }
    auto copy = std::make_shared<const std::tuple<std::decay_t<Parameters>...>>(std::forward<Arguments>(arguments)...);
    // A pointer argument the device cannot reach (pageable host memory) is an illegal address on a GPU: the kernel
    // faults, and the context with it.
    int position = 0, unreachable = 0;
    std::apply(
        [&](const auto&... argument) {
          ((++position, unreachable = unreachable ? unreachable : reachable(argument) ? 0 : position), ...);
        },
        *copy);
    if (unreachable) {
      device_fault(cudaErrorIllegalAddress, describe_launch(config_) + ": argument " + std::to_string(unreachable) +
                                                " points to host memory that is not pinned, which a GPU cannot read");
      return;
    }
    enqueue(config_.stream, describe_launch(config_), [kernel = kernel_, config = config_, copy] {
      run_grid(config, [&kernel, &copy] { std::apply(kernel, *copy); });
    });
  }

 private:
  template <class T>
  static bool reachable(const T& argument) {
    if constexpr (std::is_pointer_v<T>)
      return kernel_may_access(static_cast<const void*>(argument));
    else
      return true;
  }

  void (*kernel_)(Parameters...);
  LaunchConfig config_;
};

template <class... Parameters, class Grid, class Block>
KernelLaunch<Parameters...> launch(const char* kernel_name, const char* file, int line, void (*kernel)(Parameters...),
                                   Grid grid, Block block, size_t dynamic_shared_bytes, cudaStream_t stream) {
  LaunchConfig config;
  config.grid = launch_dimensions(grid);
  config.block = launch_dimensions(block);
  config.dynamic_shared_bytes = dynamic_shared_bytes;
  config.stream = stream;
  config.kernel = kernel_name;
  config.file = file;
  config.line = line;
  return KernelLaunch<Parameters...>(kernel, config);
}

}  // namespace loom::sim

// ---- synchronization, shuffles and votes ----

inline void __syncthreads(LOOM_SIM_CALL_SITE) { ::loom::sim::sync_threads(call_site); }

inline void __syncwarp(unsigned mask = 0xffffffffu, LOOM_SIM_CALL_SITE) {
  ::loom::sim::warp_operation(::loom::sim::WarpOperation::kSync, mask, 0, 0, warpSize, call_site);
}

template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, LOOM_SIM_CALL_SITE) {
  return ::loom::sim::from_bits<T>(::loom::sim::warp_operation(::loom::sim::WarpOperation::kShuffle, mask,
                                                               ::loom::sim::to_bits(var), src_lane, width, call_site));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, LOOM_SIM_CALL_SITE) {
  return ::loom::sim::from_bits<T>(::loom::sim::warp_operation(::loom::sim::WarpOperation::kShuffleUp, mask,
                                                               ::loom::sim::to_bits(var), static_cast<int>(delta),
                                                               width, call_site));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, LOOM_SIM_CALL_SITE) {
  return ::loom::sim::from_bits<T>(::loom::sim::warp_operation(::loom::sim::WarpOperation::kShuffleDown, mask,
                                                               ::loom::sim::to_bits(var), static_cast<int>(delta),
                                                               width, call_site));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, LOOM_SIM_CALL_SITE) {
  return ::loom::sim::from_bits<T>(::loom::sim::warp_operation(::loom::sim::WarpOperation::kShuffleXor, mask,
                                                               ::loom::sim::to_bits(var), lane_mask, width, call_site));
}

inline unsigned __ballot_sync(unsigned mask, int predicate, LOOM_SIM_CALL_SITE) {
  return static_cast<unsigned>(
      ::loom::sim::warp_operation(::loom::sim::WarpOperation::kBallot, mask, predicate != 0, 0, warpSize, call_site));
}
inline int __any_sync(unsigned mask, int predicate, LOOM_SIM_CALL_SITE) {
  return static_cast<int>(
      ::loom::sim::warp_operation(::loom::sim::WarpOperation::kAny, mask, predicate != 0, 0, warpSize, call_site));
}
inline int __all_sync(unsigned mask, int predicate, LOOM_SIM_CALL_SITE) {
  return static_cast<int>(
      ::loom::sim::warp_operation(::loom::sim::WarpOperation::kAll, mask, predicate != 0, 0, warpSize, call_site));
}
inline unsigned __activemask() { return ::loom::sim::active_mask(); }

// CUDA threads of a grid share one OS thread; program order is all a fence has to keep, and the compiler must not
// move memory accesses across it.
inline void __threadfence() { asm volatile("" ::: "memory"); }
inline void __threadfence_block() { asm volatile("" ::: "memory"); }

// ---- atomics: real atomic instructions (several OS threads may run grids at once; ThreadSanitizer sees atomics) ----

namespace loom::sim {

template <class T, class Update>
T atomic_update(T* address, Update update) {
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  static_assert(sizeof(T) == sizeof(Bits), "atomics on 4- or 8-byte values only");
  auto* word = reinterpret_cast<Bits*>(address);
  Bits old_bits = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    const T old = from_bits<T>(old_bits);
    const T updated = update(old);
    Bits new_bits = 0;
    std::memcpy(&new_bits, &updated, sizeof(T));
    if (__atomic_compare_exchange_n(word, &old_bits, new_bits, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) return old;
  }
}

}  // namespace loom::sim

inline float atomicAdd(float* address, float value) {
  return ::loom::sim::atomic_update(address, [value](float old) { return old + value; });
}
inline double atomicAdd(double* address, double value) {
  return ::loom::sim::atomic_update(address, [value](double old) { return old + value; });
}
inline int atomicAdd(int* address, int value) { return __atomic_fetch_add(address, value, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return __atomic_fetch_add(address, value, __ATOMIC_RELAXED);
}
inline int atomicSub(int* address, int value) { return __atomic_fetch_sub(address, value, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* address, unsigned value) {
  return __atomic_fetch_sub(address, value, __ATOMIC_RELAXED);
}
inline int atomicExch(int* address, int value) { return __atomic_exchange_n(address, value, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* address, unsigned value) {
  return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);
}
inline unsigned long long atomicExch(unsigned long long* address, unsigned long long value) {
  return __atomic_exchange_n(address, value, __ATOMIC_RELAXED);
}
inline float atomicExch(float* address, float value) {
  return ::loom::sim::atomic_update(address, [value](float) { return value; });
}
template <class T>
T loom_sim_atomic_cas(T* address, T compare, T value) {
  __atomic_compare_exchange_n(address, &compare, value, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return compare;  // the old value, whether or not it was replaced
}
inline int atomicCAS(int* address, int compare, int value) { return loom_sim_atomic_cas(address, compare, value); }
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
  return loom_sim_atomic_cas(address, compare, value);
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare, unsigned long long value) {
  return loom_sim_atomic_cas(address, compare, value);
}
#define LOOM_SIM_ATOMIC_MIN_MAX(T)                                                                    \
  inline T atomicMax(T* address, T value) {                                                           \
    return ::loom::sim::atomic_update(address, [value](T old) { return old < value ? value : old; }); \
  }                                                                                                   \
  inline T atomicMin(T* address, T value) {                                                           \
    return ::loom::sim::atomic_update(address, [value](T old) { return value < old ? value : old; }); \
  }
LOOM_SIM_ATOMIC_MIN_MAX(int)
LOOM_SIM_ATOMIC_MIN_MAX(unsigned)
LOOM_SIM_ATOMIC_MIN_MAX(long long)
LOOM_SIM_ATOMIC_MIN_MAX(unsigned long long)
#undef LOOM_SIM_ATOMIC_MIN_MAX

// ---- CUDA's device min and max: one overload per pair of types CUDA declares, mixed signedness compared unsigned ----

#define LOOM_SIM_MIN_MAX(Result, A, B)                                                                        \
  inline Result min(A a, B b) {                                                                               \
    return static_cast<Result>(b) < static_cast<Result>(a) ? static_cast<Result>(b) : static_cast<Result>(a); \
  }                                                                                                           \
  inline Result max(A a, B b) {                                                                               \
    return static_cast<Result>(a) < static_cast<Result>(b) ? static_cast<Result>(b) : static_cast<Result>(a); \
  }
LOOM_SIM_MIN_MAX(int, int, int)
LOOM_SIM_MIN_MAX(unsigned, unsigned, unsigned)
LOOM_SIM_MIN_MAX(unsigned, int, unsigned)
LOOM_SIM_MIN_MAX(unsigned, unsigned, int)
LOOM_SIM_MIN_MAX(long, long, long)
LOOM_SIM_MIN_MAX(unsigned long, unsigned long, unsigned long)
LOOM_SIM_MIN_MAX(unsigned long, long, unsigned long)
LOOM_SIM_MIN_MAX(unsigned long, unsigned long, long)
LOOM_SIM_MIN_MAX(long long, long long, long long)
LOOM_SIM_MIN_MAX(unsigned long long, unsigned long long, unsigned long long)
LOOM_SIM_MIN_MAX(unsigned long long, long long, unsigned long long)
LOOM_SIM_MIN_MAX(unsigned long long, unsigned long long, long long)
#undef LOOM_SIM_MIN_MAX
// Floating point as fminf/fmaxf (and fmin/fmax) do: a NaN operand gives the other one.
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }
inline double min(float a, double b) { return fmin(a, b); }
inline double max(float a, double b) { return fmax(a, b); }
inline double min(double a, float b) { return fmin(a, b); }
inline double max(double a, float b) { return fmax(a, b); }

// ---- intrinsics: the host's correctly rounded functions stand in for the GPU's approximations ----

inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline float __saturatef(float x) { return x >= 1.f ? 1.f : (x > 0.f ? x : 0.f); }  // NaN gives 0, as on a GPU
template <class T>
T __ldg(const T* address) {
  return *address;
}
