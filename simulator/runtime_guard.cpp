#include "simulator/runtime_guard.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace loom::sim {
namespace {

std::atomic<cudaError_t> sticky{cudaSuccess};
thread_local cudaError_t last_error = cudaSuccess;
thread_local int host_function_depth = 0;

// Said once, on stderr, when a program first calls the runtime: no output of a run on the simulator can be taken for
// a GPU's.
std::recursive_mutex* announce_and_make_mutex() {
  std::fprintf(stderr, "%s\n", kBanner);
  return new std::recursive_mutex();
}

}  // namespace

std::recursive_mutex& runtime_mutex() {
  static auto* mutex = announce_and_make_mutex();  // never destroyed: calls may come from static destructors
  return *mutex;
}

cudaError_t sticky_error() { return sticky.load(); }

cudaError_t take_last_error() {
  const cudaError_t fatal = sticky_error();
  if (fatal != cudaSuccess) return fatal;
  const cudaError_t status = last_error;
  last_error = cudaSuccess;
  return status;
}

cudaError_t peek_last_error() {
  const cudaError_t fatal = sticky_error();
  return fatal != cudaSuccess ? fatal : last_error;
}

HostFunctionScope::HostFunctionScope() { ++host_function_depth; }
HostFunctionScope::~HostFunctionScope() { --host_function_depth; }
bool in_host_function() { return host_function_depth > 0; }

void set_last_error(cudaError_t status) {
  if (status != cudaSuccess) last_error = status;
}

void device_fault(cudaError_t status, const std::string& what) {
  std::fprintf(stderr, "loom CUDA simulator: %s\n", what.c_str());
  cudaError_t none = cudaSuccess;
  sticky.compare_exchange_strong(none, status);  // the first fault is the one CUDA keeps reporting
}

void stop(const std::string& message) {
  std::fprintf(stderr, "loom CUDA simulator: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace loom::sim
