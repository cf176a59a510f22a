// The simulator's inner seam: how its three parts (the kernel scheduler, the CUDA runtime, the cuBLAS and cuDNN
// stand-ins) hand work to one another. Nothing in engine/ or kernels/ includes this file: loom's code sees only the
// real CUDA, cuBLAS and cuDNN headers, whose functions the simulator defines (simulator/README.md).
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include <cuda_runtime_api.h>

namespace loom::sim {

// What cudaGetDeviceProperties calls the simulated device: never a GPU's name, so no report can mistake a run on the
// simulator for a run on a GPU.
inline constexpr const char* kDeviceName = "loom CUDA simulator (CPU)";

// The first line a program prints (on stderr) when it first calls the simulated runtime.
inline constexpr const char* kBanner =
    "loom CUDA simulator: this build (LOOM_CUDA=SIM) runs CUDA code on the CPU; no GPU is used or timed";

// ---- the runtime (simulator/cuda_runtime.cpp and the files it names) ----

// Queues `work` on `stream` (nullptr: the legacy default stream) as one operation of the device, to run when
// something synchronizes with it, in stream order; or records it into the graph when the stream is capturing.
// `what` names the operation in reports ("kernel relu_kernel launched at kernels/relu_cuda.cu:12", "cublasSgemm").
// Returns cudaSuccess or the error CUDA gives (an invalid stream, a capture rule broken), which it has also recorded
// as the calling thread's last error, as CUDA does.
cudaError_t enqueue(cudaStream_t stream, std::string what, std::function<void()> work);

// Records a non-sticky error in the calling thread's last-error slot (what cudaGetLastError returns and clears).
void set_last_error(cudaError_t status);

// Whether [pointer, pointer + bytes) lies inside one live cudaMalloc block.
bool is_device_range(const void* pointer, size_t bytes);

// The check every library call makes of each operand before queueing work: true when [pointer, pointer + bytes) is
// device memory, else a device fault (cudaErrorIllegalAddress, as a GPU gives) naming `call` and `operand`, and false:
// an operand that is host memory, freed or too short is reported, never read.
bool operand_on_device(const char* call, const char* operand, const void* pointer, size_t bytes);

// Whether a kernel may dereference `pointer`: null, in (or one past the end of) a live cudaMalloc block, or in pinned
// host memory, which a GPU maps. Pageable host memory is an illegal address on a GPU (no HMM/ATS assumed).
bool kernel_may_access(const void* pointer);

// A fault of the simulated device (what a GPU would report as an illegal address): prints
// "loom CUDA simulator: <what>" on stderr and makes `status` the context's sticky error, returned by every later
// call, as CUDA does after a kernel faults.
void device_fault(cudaError_t status, const std::string& what);

// Stops the process: "loom CUDA simulator: <message>" on stderr, then abort(). For the rules a GPU punishes only by
// chance (a divergent barrier, a shuffle naming an exited lane, a deadlock): there is no right answer to go on with.
[[noreturn]] void stop(const std::string& message);

// ---- the kernel scheduler (simulator/kernel_scheduler.cpp) ----

struct LaunchConfig {
  dim3 grid, block;
  size_t dynamic_shared_bytes = 0;
  cudaStream_t stream = nullptr;
  const char* kernel = "";  // the kernel's name as written at the launch
  const char* file = "";    // where it was launched
  int line = 0;
};

// The error CUDA gives for launching `config` on the simulated device (H100 limits): cudaSuccess, or
// cudaErrorInvalidConfiguration for too many threads per block, a block or grid dimension out of range, or dynamic
// shared memory beyond the 48 KiB allowed without opt-in.
cudaError_t check_launch(const LaunchConfig& config);

// Runs the kernel over the whole grid, now, on the calling OS thread: `body` is one CUDA thread's work (the kernel
// applied to the launch's copy of its arguments), run once per thread with threadIdx & co. set.
void run_grid(const LaunchConfig& config, const std::function<void()>& body);

}  // namespace loom::sim
