// The runtime of a build without the CUDA path (CMake's LOOM_CUDA resolved to OFF), in place of the cuda_*.cpp/.cu
// sources, which only builds with it compile.
//
// Why the seam is here: the CPU code is the same in both builds and still names the GPU (an op dispatches on
// x.device() == Device::CUDA, a layer keeps a cuDNN plan cache, the trainer a CUDA graph), so every CUDA entry point
// it can reach must link. Rather than #ifdefs through the layers and ops, a build without CUDA swaps the files that
// implement those entry points: these, and the ops' GPU side in kernels/without_cuda.cpp. Each throws one error that
// says the build has no CUDA path and how to get one. None is reached in practice: resolve_device never picks the GPU
// here, and a tensor on Device::CUDA cannot be allocated, so every op's CUDA branch stays unreachable.
#include "engine/runtime/cuda_context.h"
#include "engine/runtime/cuda_event.h"
#include "engine/runtime/cuda_graph.h"
#include "engine/runtime/cuda_memory.h"
#include "engine/runtime/device.h"

namespace loom {

bool cuda_path_built() { return false; }

const CudaProbe& probe_cuda() {
  static const CudaProbe probe{false, no_cuda_path_reason(), "", 0, 0, false};
  return probe;
}

CudaContext& CudaContext::get() { throw_no_cuda_path("the GPU's stream, cuBLAS and cuDNN"); }
cudnnContext* CudaContext::cudnn() { throw_no_cuda_path("cuDNN"); }
void CudaContext::reserve_workspace(size_t) { throw_no_cuda_path("a GPU workspace"); }
void CudaContext::synchronize() const { throw_no_cuda_path("waiting for the GPU"); }
void CudaContext::set_tf32(bool) { throw_no_cuda_path("--tf32"); }
bool CudaContext::capturing() const { throw_no_cuda_path("a CUDA graph"); }

CudaGraph::~CudaGraph() = default;
void CudaGraph::capture(const std::function<void()>&) { throw_no_cuda_path("a CUDA graph"); }
bool CudaGraph::stale() const { return false; }
void CudaGraph::launch() const { throw_no_cuda_path("a CUDA graph"); }
void CudaGraph::reset() {}

CudaEvent::CudaEvent(Timing) { throw_no_cuda_path("a CUDA event"); }
CudaEvent::~CudaEvent() = default;
void CudaEvent::record() { throw_no_cuda_path("a CUDA event"); }
bool CudaEvent::done() const { throw_no_cuda_path("a CUDA event"); }
void CudaEvent::wait() const { throw_no_cuda_path("a CUDA event"); }
void CudaEvent::wait_or_warn() const noexcept {}
double CudaEvent::elapsed_ms(const CudaEvent&, const CudaEvent&) { throw_no_cuda_path("a CUDA event"); }

namespace cuda_memory {
void* allocate_device(size_t) { throw_no_cuda_path("GPU memory"); }
void* allocate_pinned(size_t) { throw_no_cuda_path("pinned host memory"); }
void free_device(void*) noexcept {}
void free_pinned(void*) noexcept {}
void copy(void*, const void*, size_t, bool) { throw_no_cuda_path("a copy to or from the GPU"); }
void zero(void*, size_t) { throw_no_cuda_path("GPU memory"); }
void fill(float*, int64_t, float) { throw_no_cuda_path("GPU memory"); }
void device_memory(size_t&, size_t&) { throw_no_cuda_path("the GPU's free memory"); }
}  // namespace cuda_memory

}  // namespace loom
