// The CUDA simulator's kernel scheduler and kernel language: every CUDA thread runs once with CUDA's indices; shared
// memory, barriers, shuffles, votes and atomics give CUDA's answers in every thread order; the rules a GPU punishes
// only by chance stop the run, saying where; launches CUDA refuses fail as CUDA fails them. Built only in the simulator
// flavour, compiled as C++ with simulator/kernel_language.h force-included, as loom's kernels are.
//
// The thread order (LOOM_SIM_THREAD_ORDER) is read once per process: what must hold in every order is checked in
// child processes, one per order, as are the checks that stop the run.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_launch.cuh"
#include "simulator/device.h"

namespace loom::test {
namespace {

// ---- device memory for the tests ----

template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(size_t count) : count_(count) {
    void* data = nullptr;
    if (cudaMalloc(&data, count * sizeof(T)) != cudaSuccess) std::abort();
    data_ = static_cast<T*>(data);
  }
  explicit DeviceArray(const std::vector<T>& values) : DeviceArray(values.size()) {
    cudaMemcpy(data_, values.data(), count_ * sizeof(T), cudaMemcpyHostToDevice);
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }
  std::vector<T> read() const {
    cudaDeviceSynchronize();
    std::vector<T> values(count_);
    cudaMemcpy(values.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost);
    return values;
  }

 private:
  size_t count_;
  T* data_ = nullptr;
};

template <class T>
DeviceArray<T> zeros(size_t count) {
  return DeviceArray<T>(std::vector<T>(count, T{}));
}

// ---- kernels ----

__global__ void record_indices_kernel(unsigned* visits, uint3* thread_indices, uint3* block_indices, dim3* shapes) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned id = block * (blockDim.x * blockDim.y * blockDim.z) + thread;
  atomicAdd(visits + id, 1u);
  thread_indices[id] = threadIdx;
  block_indices[id] = blockIdx;
  shapes[2 * id] = blockDim;
  shapes[2 * id + 1] = gridDim;
}

constexpr int kReduceThreads = 256;

// A tree reduction in shared memory, as loom's tiled kernels do it.
__global__ void block_sum_kernel(const int* input, int* sums) {
  __shared__ int partial[kReduceThreads];
  const unsigned t = threadIdx.x;
  partial[t] = input[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) partial[t] += partial[t + half];
    __syncthreads();
  }
  if (t == 0) sums[blockIdx.x] = partial[0];
}

enum ShuffleKind : int { kIndex, kUp, kDown, kXor };

__global__ void shuffle_kernel(int* out, int kind, int argument, int width) {
  const int value = 1000 + static_cast<int>(threadIdx.x) * 7;
  int result = 0;
  switch (kind) {
    case kIndex:
      result = __shfl_sync(0xffffffffu, value, argument + static_cast<int>(threadIdx.x % 32 % 3), width);
      break;
    case kUp:
      result = __shfl_up_sync(0xffffffffu, value, static_cast<unsigned>(argument), width);
      break;
    case kDown:
      result = __shfl_down_sync(0xffffffffu, value, static_cast<unsigned>(argument), width);
      break;
    default:
      result = __shfl_xor_sync(0xffffffffu, value, argument, width);
      break;
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = result;
}

// The value shuffle_kernel's lane `lane` of warp 0 gets, by CUDA's rule for the lane a shuffle reads (a lane before
// the caller's group of `width` lanes, or after it: the caller's own value; an index is taken modulo the width).
int expected_shuffle(int lane, int kind, int argument, int width) {
  const int first = lane & ~(width - 1);
  int source = lane;
  if (kind == kIndex) source = first + (argument + lane % 3) % width;
  if (kind == kUp && lane - first >= argument) source = lane - argument;
  if (kind == kDown && lane - first + argument < width) source = lane + argument;
  if (kind == kXor && (lane ^ argument) < first + width) source = lane ^ argument;
  return 1000 + source * 7;
}

__global__ void shuffle_double_kernel(double* out) {
  const double value = 0.5 + threadIdx.x;
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, value, 1);
}

__global__ void vote_kernel(unsigned* ballots, int* any, int* all, unsigned* active) {
  const unsigned lane = threadIdx.x % 32;
  ballots[threadIdx.x] = __ballot_sync(0xffffffffu, lane % 3 == 0);
  any[threadIdx.x] = __any_sync(0xffffffffu, threadIdx.x == 40) + 2 * __any_sync(0x0000ffffu << (lane & 16), false);
  all[threadIdx.x] = __all_sync(0xffffffffu, lane < 32) + 2 * __all_sync(0xffffffffu, lane != 7);
  active[threadIdx.x] = __activemask();
}

// Lanes sum their warp's values through shared memory, ordered by __syncwarp alone.
__global__ void warp_sum_kernel(const int* input, int* sums) {
  __shared__ int values[64];
  const unsigned t = threadIdx.x, lane = t % 32, base = t - lane;
  values[t] = input[t];
  __syncwarp();
  if (lane == 0) {
    int sum = 0;
    for (unsigned i = 0; i < 32; ++i) sum += values[base + i];
    sums[t / 32] = sum;
  }
}

struct AtomicTotals {
  float f;
  double d;
  int i;
  unsigned u;
  unsigned long long ull;
  int sub;
  int max;
  int min;
  unsigned umax;
  int exch_count;
  int cas_count;
  int exch;
  int cas;
};

__global__ void atomics_kernel(AtomicTotals* totals) {
  const int t = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(&totals->f, 0.5f);
  atomicAdd(&totals->d, 0.25);
  atomicAdd(&totals->i, t);
  atomicAdd(&totals->u, 2u);
  atomicAdd(&totals->ull, 1ull << 33);
  atomicSub(&totals->sub, 3);
  atomicMax(&totals->max, (t * 37) % 101);
  atomicMin(&totals->min, 50 - (t * 37) % 101);
  atomicMax(&totals->umax, static_cast<unsigned>(t) * 3u);
  if (atomicExch(&totals->exch, t + 1) == 0) atomicAdd(&totals->exch_count, 1);  // only the first sees 0
  if (atomicCAS(&totals->cas, 0, t + 1) == 0) atomicAdd(&totals->cas_count, 1);  // only one replaces 0
}

// Each thread reads its left neighbour's value from shared memory. `synchronized` false is the bug: the barrier
// between the writes and the reads left out. `salt` makes each launch's values its own, so that what an earlier launch
// left in shared memory never passes for this one's.
__global__ void left_neighbour_kernel(int* out, int salt, bool synchronized) {
  __shared__ int values[kReduceThreads];
  const unsigned t = threadIdx.x;
  values[t] = static_cast<int>(t) + salt;
  if (synchronized) __syncthreads();
  out[t] = t > 0 ? values[t - 1] : salt - 1;
}

__global__ void modifies_its_parameter_kernel(int* out, int count) {
  count += static_cast<int>(threadIdx.x);  // each CUDA thread has its own copy of the arguments
  out[threadIdx.x] = count;
}

// ---- kernels that break the rules ----

__global__ void divergent_barrier_kernel() {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

__global__ void last_thread_exits_kernel() {
  if (threadIdx.x == blockDim.x - 1) return;
  __syncthreads();
}

__global__ void first_lane_exits_kernel(int* out) {
  if (threadIdx.x == 0) return;
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

// Lanes 0 and 16 each name the other, with different masks.
__global__ void mismatched_masks_kernel() {
  if (threadIdx.x < 16) {
    __syncwarp(0xffffffffu);
  } else {
    __syncwarp(0xffff0001u);
  }
}

__global__ void different_operations_kernel(int* out) {
  int value = static_cast<int>(threadIdx.x);
  if (threadIdx.x < 16)
    value = __shfl_xor_sync(0xffffffffu, value, 1);
  else
    value = __shfl_down_sync(0xffffffffu, value, 1);
  out[threadIdx.x] = value;
}

__global__ void lane_outside_its_mask_kernel() { __syncwarp(0xfffffffeu); }

__global__ void small_block_full_mask_kernel(int* out) {
  out[threadIdx.x] = __shfl_sync(0xffffffffu, static_cast<int>(threadIdx.x), 0);
}

__global__ void deadlock_kernel() {
  if (threadIdx.x < 16)
    __syncwarp();
  else
    __syncthreads();
}

__global__ void empty_kernel() {}

__global__ void count_kernel(int* count) { atomicAdd(count, 1); }

// ---- helpers ----

// Runs `check` in a child process under LOOM_SIM_THREAD_ORDER=`order` and expects it to exit with `code`: 0 when
// check() holds, 1 when it does not.
void expect_in_order(const char* order, bool (*check)(), int code = 0) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("LOOM_SIM_THREAD_ORDER", order, 1);
        std::exit(check() ? 0 : 1);
      },
      ::testing::ExitedWithCode(code), "")
      << "LOOM_SIM_THREAD_ORDER=" << order;
}

const char* const kOrders[] = {"forward", "reverse", "random:1", "random:20261206"};

bool report(bool ok, const std::string& what) {
  if (!ok) std::fprintf(stderr, "mismatch: %s\n", what.c_str());
  return ok;
}

// ---- (a) every thread once, with CUDA's indices ----

bool indices_are_cudas(dim3 grid, dim3 block) {
  const unsigned threads = block.x * block.y * block.z, count = grid.x * grid.y * grid.z * threads;
  DeviceArray<unsigned> visits = zeros<unsigned>(count);
  DeviceArray<uint3> thread_indices(count), block_indices(count);
  DeviceArray<dim3> shapes(2 * count);
  LOOM_LAUNCH(record_indices_kernel, grid, block, 0, nullptr)
  (visits.get(), thread_indices.get(), block_indices.get(), shapes.get());
  if (!report(cudaGetLastError() == cudaSuccess, "launch failed")) return false;
  const auto seen = visits.read();
  const auto threads_seen = thread_indices.read(), blocks_seen = block_indices.read();
  const auto shapes_seen = shapes.read();
  bool ok = true;
  for (unsigned id = 0; id < count && ok; ++id) {
    const unsigned b = id / threads, t = id % threads;
    const uint3 want_thread{t % block.x, t / block.x % block.y, t / (block.x * block.y)};
    const uint3 want_block{b % grid.x, b / grid.x % grid.y, b / (grid.x * grid.y)};
    const uint3 got_thread = threads_seen[id], got_block = blocks_seen[id];
    const dim3 got_block_dim = shapes_seen[2 * id], got_grid_dim = shapes_seen[2 * id + 1];
    ok = report(seen[id] == 1, "thread " + std::to_string(id) + " ran " + std::to_string(seen[id]) + " times") &&
         report(got_thread.x == want_thread.x && got_thread.y == want_thread.y && got_thread.z == want_thread.z,
                "threadIdx of " + std::to_string(id)) &&
         report(got_block.x == want_block.x && got_block.y == want_block.y && got_block.z == want_block.z,
                "blockIdx of " + std::to_string(id)) &&
         report(got_block_dim.x == block.x && got_block_dim.y == block.y && got_block_dim.z == block.z &&
                    got_grid_dim.x == grid.x && got_grid_dim.y == grid.y && got_grid_dim.z == grid.z,
                "blockDim or gridDim of " + std::to_string(id));
  }
  return ok;
}

bool every_shape_runs_every_thread_once() {
  return indices_are_cudas(dim3(7), dim3(33)) && indices_are_cudas(dim3(3, 5), dim3(16, 4)) &&
         indices_are_cudas(dim3(2, 3, 4), dim3(4, 2, 8)) && indices_are_cudas(dim3(1), dim3(1024)) &&
         indices_are_cudas(dim3(2, 1, 3), dim3(1, 1, 64));
}

TEST(SimulatorKernels, EveryThreadRunsOnceWithCudasIndices) { EXPECT_TRUE(every_shape_runs_every_thread_once()); }

TEST(SimulatorKernels, EveryThreadRunsOnceInEveryOrder) {
  for (const char* order : kOrders) expect_in_order(order, every_shape_runs_every_thread_once);
}

// ---- (b) CUDA's answers in every order ----

bool block_sums_are_right() {
  constexpr int kBlocks = 5;
  std::vector<int> input(kBlocks * kReduceThreads);
  for (size_t i = 0; i < input.size(); ++i) input[i] = static_cast<int>(i * 31 % 97) - 40;
  DeviceArray<int> device_input(input);
  DeviceArray<int> sums = zeros<int>(kBlocks);
  LOOM_LAUNCH(block_sum_kernel, kBlocks, kReduceThreads, 0, nullptr)(device_input.get(), sums.get());
  const auto got = sums.read();
  bool ok = true;
  for (int b = 0; b < kBlocks; ++b) {
    int want = 0;
    for (int t = 0; t < kReduceThreads; ++t) want += input[b * kReduceThreads + t];
    ok &= report(got[b] == want, "block sum " + std::to_string(b));
  }
  return ok;
}

bool shuffles_are_right() {
  constexpr int kThreads = 64;
  bool ok = true;
  for (int kind : {kIndex, kUp, kDown, kXor})
    for (int width : {32, 16, 8, 4, 2, 1})
      for (int argument : {0, 1, 3, 5, 16, 31}) {
        DeviceArray<int> out = zeros<int>(kThreads);
        LOOM_LAUNCH(shuffle_kernel, 1, kThreads, 0, nullptr)(out.get(), kind, argument, width);
        const auto got = out.read();
        for (int t = 0; t < kThreads; ++t) {
          const int lane = t % 32;
          const int want = expected_shuffle(lane, kind, argument, width) + (t / 32) * 32 * 7;
          ok &= report(got[t] == want, "shuffle kind " + std::to_string(kind) + " width " + std::to_string(width) +
                                           " argument " + std::to_string(argument) + " thread " + std::to_string(t) +
                                           ": " + std::to_string(got[t]) + " not " + std::to_string(want));
        }
      }
  DeviceArray<double> doubles = zeros<double>(32);
  LOOM_LAUNCH(shuffle_double_kernel, 1, 32, 0, nullptr)(doubles.get());
  const auto got = doubles.read();
  for (int t = 0; t < 32; ++t)
    ok &= report(got[t] == 0.5 + (t < 31 ? t + 1 : t), "double shuffle " + std::to_string(t));
  return ok;
}

bool votes_are_right() {
  constexpr int kThreads = 64;
  DeviceArray<unsigned> ballots = zeros<unsigned>(kThreads), active = zeros<unsigned>(kThreads);
  DeviceArray<int> any = zeros<int>(kThreads), all = zeros<int>(kThreads);
  LOOM_LAUNCH(vote_kernel, 1, kThreads, 0, nullptr)(ballots.get(), any.get(), all.get(), active.get());
  unsigned every_third = 0;
  for (int lane = 0; lane < 32; lane += 3) every_third |= 1u << lane;
  const auto got_ballots = ballots.read(), got_active = active.read();
  const auto got_any = any.read(), got_all = all.read();
  bool ok = true;
  for (int t = 0; t < kThreads; ++t) {
    ok &= report(got_ballots[t] == every_third, "ballot of " + std::to_string(t));
    ok &= report(got_any[t] == (t >= 32 ? 1 : 0), "any of " + std::to_string(t));  // thread 40 is in warp 1
    ok &= report(got_all[t] == 1, "all of " + std::to_string(t));
    // Which lanes run together is the hardware's choice; the caller is always among them.
    ok &= report((got_active[t] >> (t % 32) & 1u) != 0, "activemask of " + std::to_string(t));
  }
  return ok;
}

bool warp_sums_are_right() {
  std::vector<int> input(64);
  for (int i = 0; i < 64; ++i) input[i] = i * i - 100;
  DeviceArray<int> device_input(input);
  DeviceArray<int> sums = zeros<int>(2);
  LOOM_LAUNCH(warp_sum_kernel, 1, 64, 0, nullptr)(device_input.get(), sums.get());
  const auto got = sums.read();
  int want[2] = {0, 0};
  for (int i = 0; i < 64; ++i) want[i / 32] += input[i];
  return report(got[0] == want[0] && got[1] == want[1], "warp sums");
}

bool atomics_are_right() {
  constexpr int kBlocks = 3, kThreads = 100, kCount = kBlocks * kThreads;
  AtomicTotals start{};
  start.sub = 1000;
  start.max = -1;
  start.min = 1000;
  DeviceArray<AtomicTotals> totals(std::vector<AtomicTotals>{start});
  LOOM_LAUNCH(atomics_kernel, kBlocks, kThreads, 0, nullptr)(totals.get());
  const AtomicTotals got = totals.read()[0];
  int max = -1, min = 1000;
  for (int t = 0; t < kCount; ++t) {
    max = std::max(max, t * 37 % 101);
    min = std::min(min, 50 - t * 37 % 101);
  }
  return report(got.f == 0.5f * kCount, "atomicAdd float") && report(got.d == 0.25 * kCount, "atomicAdd double") &&
         report(got.i == kCount * (kCount - 1) / 2, "atomicAdd int") &&
         report(got.u == 2u * kCount, "atomicAdd unsigned") &&
         report(got.ull == (1ull << 33) * kCount, "atomicAdd unsigned long long") &&
         report(got.sub == 1000 - 3 * kCount, "atomicSub") && report(got.max == max, "atomicMax int") &&
         report(got.min == min, "atomicMin int") && report(got.umax == 3u * (kCount - 1), "atomicMax unsigned") &&
         report(got.exch_count == 1 && got.exch >= 1 && got.exch <= kCount, "atomicExch") &&
         report(got.cas_count == 1 && got.cas >= 1 && got.cas <= kCount, "atomicCAS");
}

bool synchronized_neighbours_are_right() {
  DeviceArray<int> out = zeros<int>(kReduceThreads);
  LOOM_LAUNCH(left_neighbour_kernel, 1, kReduceThreads, 0, nullptr)(out.get(), 5000, true);
  const auto got = out.read();
  bool ok = true;
  for (int t = 0; t < kReduceThreads; ++t) ok &= got[t] == 5000 + t - 1;
  return report(ok, "left neighbours with the barrier");
}

bool kernels_give_cudas_answers() {
  return block_sums_are_right() && shuffles_are_right() && votes_are_right() && warp_sums_are_right() &&
         atomics_are_right() && synchronized_neighbours_are_right();
}

TEST(SimulatorKernels, BarriersShufflesVotesAndAtomicsGiveCudasAnswers) { EXPECT_TRUE(kernels_give_cudas_answers()); }

TEST(SimulatorKernels, BarriersShufflesVotesAndAtomicsGiveCudasAnswersInEveryOrder) {
  for (const char* order : kOrders) expect_in_order(order, kernels_give_cudas_answers);
}

TEST(SimulatorKernels, ArgumentsAreConvertedAndCopiedPerThread) {
  DeviceArray<int> out = zeros<int>(4);
  const int64_t count = 10;  // converted to the kernel's int
  LOOM_LAUNCH(modifies_its_parameter_kernel, 1, 4, 0, nullptr)(out.get(), count);
  EXPECT_EQ(out.read(), (std::vector<int>{10, 11, 12, 13}));
}

// ---- (d) the order knob exposes a missing barrier ----

bool unsynchronized_neighbours_are_right() {
  DeviceArray<int> out = zeros<int>(kReduceThreads);
  LOOM_LAUNCH(left_neighbour_kernel, 1, kReduceThreads, 0, nullptr)(out.get(), 7000, false);
  const auto got = out.read();
  bool ok = true;
  for (int t = 0; t < kReduceThreads; ++t) ok &= got[t] == 7000 + t - 1;
  return ok;
}

TEST(SimulatorKernels, ThreadOrderExposesAMissingBarrier) {
  // With the barrier, every order gives the one right answer.
  for (const char* order : kOrders) expect_in_order(order, synchronized_neighbours_are_right);
  // Without it, the forward order (each thread after its left neighbour) happens to give it too; the reverse and
  // random orders read neighbours that have not written yet, and show the bug.
  expect_in_order("forward", unsynchronized_neighbours_are_right, 0);
  expect_in_order("reverse", unsynchronized_neighbours_are_right, 1);
  expect_in_order("random:1", unsynchronized_neighbours_are_right, 1);
}

// ---- (c) the checks that stop the run ----

class SimulatorKernelsDeathTest : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

// Launches under LOOM_SIM_THREAD_ORDER=`order` (forward unless named), and waits for the device: the runtime runs
// queued work when something synchronizes with it.
void launch_in_order(const std::function<void()>& launch, const char* order = "forward") {
  setenv("LOOM_SIM_THREAD_ORDER", order, 1);
  launch();
  cudaDeviceSynchronize();
}

// Exits 0 when launching a kernel on pageable host memory failed as a GPU fails it: the device faults (a sticky
// illegal address) and the kernel never runs.
[[noreturn]] void launch_on_pageable_memory() {
  std::vector<int> host(1, 7);
  LOOM_LAUNCH(count_kernel, 1, 1, 0, nullptr)(host.data());
  std::exit(cudaDeviceSynchronize() == cudaErrorIllegalAddress && host[0] == 7 ? 0 : 1);
}

TEST_F(SimulatorKernelsDeathTest, PageableHostMemoryAsAnArgumentFaults) {
  EXPECT_EXIT(launch_on_pageable_memory(), ::testing::ExitedWithCode(0),
              "kernel count_kernel launched at .*test_simulator_kernels.cu:[0-9]+: argument 1 points to host memory "
              "that is not pinned");
}

TEST_F(SimulatorKernelsDeathTest, DivergentSyncthreadsStops) {
  EXPECT_DEATH(launch_in_order([] {
                 LOOM_LAUNCH(divergent_barrier_kernel, 2, 64, 0, nullptr)
                 ();
               }),
               "kernel divergent_barrier_kernel launched at .*test_simulator_kernels.cu:[0-9]+, block \\(0,0,0\\): "
               "threads of one block wait at different __syncthreads: thread \\(0,0,0\\) at "
               ".*test_simulator_kernels.cu:[0-9]+, thread \\(1,0,0\\) at .*test_simulator_kernels.cu:[0-9]+");
}

TEST_F(SimulatorKernelsDeathTest, ExitWhileOthersWaitAtSyncthreadsStops) {
  EXPECT_DEATH(launch_in_order([] {
                 LOOM_LAUNCH(last_thread_exits_kernel, 1, 64, 0, nullptr)
                 ();
               }),
               "kernel last_thread_exits_kernel .*block \\(0,0,0\\): thread \\(63,0,0\\) exited while 63 thread\\(s\\) "
               "of its block wait at __syncthreads \\(thread \\(0,0,0\\) at .*test_simulator_kernels.cu:[0-9]+\\)");
}

TEST_F(SimulatorKernelsDeathTest, SyncthreadsAfterAThreadExitedStops) {
  const auto launch = [] { LOOM_LAUNCH(last_thread_exits_kernel, 1, 64, 0, nullptr)(); };
  EXPECT_DEATH(
      launch_in_order(launch, "reverse"),
      "thread \\(62,0,0\\) waits at __syncthreads at .*test_simulator_kernels.cu:[0-9]+, but thread \\(63,0,0\\) has "
      "exited");
}

TEST_F(SimulatorKernelsDeathTest, ShuffleNamingAnExitedLaneStops) {
  DeviceArray<int> out(32);
  const auto launch = [&] { LOOM_LAUNCH(first_lane_exits_kernel, 1, 32, 0, nullptr)(out.get()); };
  EXPECT_DEATH(launch_in_order(launch),
               "__shfl_sync \\(mask 0xffffffff\\) at .*test_simulator_kernels.cu:[0-9]+ by thread \\(1,0,0\\) \\(lane "
               "1\\): the mask names lane 0, thread \\(0,0,0\\), which has exited");
  EXPECT_DEATH(
      launch_in_order(launch, "reverse"),
      "thread \\(0,0,0\\) \\(lane 0\\) exited while thread \\(31,0,0\\) \\(lane 31\\) waits at __shfl_sync \\(mask "
      "0xffffffff\\) at .*test_simulator_kernels.cu:[0-9]+ names it in its mask");
}

TEST_F(SimulatorKernelsDeathTest, MismatchedMasksStop) {
  EXPECT_DEATH(launch_in_order([] {
                 LOOM_LAUNCH(mismatched_masks_kernel, 1, 32, 0, nullptr)
                 ();
               }),
               "lanes of one warp at different warp operations or with different masks: __syncwarp \\(mask "
               "0xffff0001\\) at .*test_simulator_kernels.cu:[0-9]+ by thread \\(16,0,0\\) \\(lane 16\\); thread "
               "\\(0,0,0\\) \\(lane 0\\) waits at __syncwarp \\(mask 0xffffffff\\)");
}

TEST_F(SimulatorKernelsDeathTest, DifferentWarpOperationsStop) {
  DeviceArray<int> out(32);
  EXPECT_DEATH(
      launch_in_order([&] {
        LOOM_LAUNCH(different_operations_kernel, 1, 32, 0, nullptr)
        (out.get());
      }),
      "different warp operations or with different masks: __shfl_down_sync .* by thread \\(16,0,0\\).*; thread "
      "\\(0,0,0\\) \\(lane 0\\) waits at __shfl_xor_sync");
}

TEST_F(SimulatorKernelsDeathTest, LaneMissingFromItsOwnMaskStops) {
  EXPECT_DEATH(launch_in_order([] {
                 LOOM_LAUNCH(lane_outside_its_mask_kernel, 1, 32, 0, nullptr)
                 ();
               }),
               "__syncwarp \\(mask 0xfffffffe\\) at .*test_simulator_kernels.cu:[0-9]+ by thread \\(0,0,0\\) \\(lane "
               "0\\): the calling lane is not in its own mask");
}

TEST_F(SimulatorKernelsDeathTest, MaskNamingALaneTheBlockLacksStops) {
  DeviceArray<int> out(16);
  EXPECT_DEATH(launch_in_order([&] {
                 LOOM_LAUNCH(small_block_full_mask_kernel, 1, 16, 0, nullptr)
                 (out.get());
               }),
               "the mask names lane 16, which does not exist \\(the block has 16 threads, this warp 16 lanes\\)");
}

TEST_F(SimulatorKernelsDeathTest, DeadlockStopsSayingWhereEachThreadWaits) {
  EXPECT_DEATH(launch_in_order([] {
                 LOOM_LAUNCH(deadlock_kernel, 1, 32, 0, nullptr)
                 ();
               }),
               "kernel deadlock_kernel .*: deadlock: no thread can go on; thread \\(0,0,0\\) \\(lane 0\\) waits at "
               "__syncwarp \\(mask 0xffffffff\\) at .*test_simulator_kernels.cu:[0-9]+, and 15 more there; thread "
               "\\(16,0,0\\) waits at __syncthreads at .*test_simulator_kernels.cu:[0-9]+, and 15 more there");
}

TEST_F(SimulatorKernelsDeathTest, BadThreadOrderStopsNamingTheChoices) {
  const auto launch = [] { LOOM_LAUNCH(empty_kernel, 1, 1, 0, nullptr)(); };
  EXPECT_DEATH(launch_in_order(launch, "sideways"),
               "LOOM_SIM_THREAD_ORDER='sideways' is not one of forward, reverse or random:<seed>");
  EXPECT_DEATH(launch_in_order(launch, "random:"), "LOOM_SIM_THREAD_ORDER='random:' is not one of");
}

TEST_F(SimulatorKernelsDeathTest, SyncthreadsOutsideAKernelStops) {
  EXPECT_DEATH(__syncthreads(), "__syncthreads called outside a kernel at .*test_simulator_kernels.cu:[0-9]+");
}

// ---- launch limits ----

cudaError_t launch_count_kernel(dim3 grid, dim3 block, size_t shared_bytes, int* count) {
  LOOM_LAUNCH(count_kernel, grid, block, shared_bytes, nullptr)(count);
  return cudaGetLastError();
}

TEST(SimulatorKernels, InvalidLaunchesFailAsOnAnH100AndRunNothing) {
  DeviceArray<int> count = zeros<int>(1);
  const struct {
    dim3 grid, block;
    size_t shared_bytes;
  } invalid[] = {
      {dim3(1), dim3(1025), 0},           {dim3(1), dim3(32, 33), 0},      {dim3(1), dim3(2048, 1), 0},
      {dim3(1), dim3(1, 1025), 0},        {dim3(1), dim3(1, 1, 65), 0},    {dim3(0x80000000u), dim3(1), 0},
      {dim3(1, 65536), dim3(1), 0},       {dim3(1, 1, 65536), dim3(1), 0}, {dim3(0), dim3(1), 0},
      {dim3(1, 0), dim3(1), 0},           {dim3(1), dim3(0), 0},           {dim3(1), dim3(1, 1, 0), 0},
      {dim3(1), dim3(32), 48 * 1024 + 1},
  };
  for (const auto& launch : invalid)
    EXPECT_EQ(launch_count_kernel(launch.grid, launch.block, launch.shared_bytes, count.get()),
              cudaErrorInvalidConfiguration)
        << "grid (" << launch.grid.x << "," << launch.grid.y << "," << launch.grid.z << "), block (" << launch.block.x
        << "," << launch.block.y << "," << launch.block.z << "), " << launch.shared_bytes << " bytes";
  EXPECT_EQ(count.read()[0], 0);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);  // not sticky

  // The limits themselves are allowed.
  EXPECT_EQ(launch_count_kernel(dim3(1), dim3(1024), 48 * 1024, count.get()), cudaSuccess);
  EXPECT_EQ(launch_count_kernel(dim3(1), dim3(32, 32), 0, count.get()), cudaSuccess);
  EXPECT_EQ(launch_count_kernel(dim3(1), dim3(1, 16, 64), 0, count.get()), cudaSuccess);
  EXPECT_EQ(launch_count_kernel(dim3(2, 3, 4), dim3(1), 0, count.get()), cudaSuccess);
  EXPECT_EQ(count.read()[0], 1024 + 1024 + 1024 + 24);
  sim::LaunchConfig largest;
  largest.grid = dim3(0x7FFFFFFFu, 65535, 65535);
  largest.block = dim3(1024);
  EXPECT_EQ(sim::check_launch(largest), cudaSuccess);
  // A negative count converts to a huge dimension, as in CUDA.
  LOOM_LAUNCH(count_kernel, -1, 32, 0, nullptr)(count.get());
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
}

}  // namespace
}  // namespace loom::test
