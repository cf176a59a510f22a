// What a GPU session needs to know before it trusts any other result: whether a GPU is usable (and if not, why),
// which one, and which driver, CUDA runtime, cuBLAS and cuDNN are actually in play beside the versions loom was
// compiled against, so that a mismatch is visible. Prints one JSON object; exits 0 whether or not a GPU is present.
//
//   device_info --json device.json
//
// cuBLAS, cuBLASLt and cuDNN are opened with dlopen rather than linked, so this program still starts (and says which
// library is missing and why) on a machine where the loader cannot find them and every other loom program would fail
// before main(). A build without the CUDA path (LOOM_CUDA_PATH 0, set by benchmarks/CMakeLists.txt) has none of
// them, nor has the simulator flavour (LOOM_CUDA=SIM): it reports the same fields, each saying so.
#include <dlfcn.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#if LOOM_CUDA_PATH
#include <cublasLt.h>
#include <cublas_api.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

#include "apps/run_guarded.h"
#include "benchmarks/hardware.h"
#include "engine/runtime/device.h"
#include "engine/runtime/errors.h"

namespace {

using nlohmann::json;

#if LOOM_CUDA_PATH

std::string cuda_version_text(int version) {  // 13000 -> "13.0", 12080 -> "12.8"
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string triple(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

// Opens `soname` the way the loader would for a linked program (LD_LIBRARY_PATH, ldconfig cache, ...). On success
// `row["library"]` is the file it resolved to; on failure `row["error"]` is the loader's message.
void* open_library(const std::string& soname, json& row) {
  row["soname"] = soname;
  void* handle = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    row["loaded"] = nullptr;
    row["error"] = why ? why : "dlopen failed";
  }
  return handle;
}

template <class Fn>
Fn symbol(void* handle, const char* name, json& row) {
  void* address = dlsym(handle, name);
  if (!address) {
    row["error"] = std::string("symbol ") + name + " not found";
    return nullptr;
  }
  Dl_info info{};
  if (dladdr(address, &info) && info.dli_fname) {
    char* real = realpath(info.dli_fname, nullptr);
    row["library"] = real ? real : info.dli_fname;
    std::free(real);
  }
  return reinterpret_cast<Fn>(address);
}

json cublas_info() {
  json row;
  row["compiled"] = triple(CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
  void* handle = open_library("libcublas.so." + std::to_string(CUBLAS_VER_MAJOR), row);
  if (!handle) return row;
  auto get_property = symbol<decltype(&cublasGetProperty)>(handle, "cublasGetProperty", row);
  if (!get_property) return row;
  int major = 0, minor = 0, patch = 0;
  if (get_property(MAJOR_VERSION, &major) != CUBLAS_STATUS_SUCCESS ||
      get_property(MINOR_VERSION, &minor) != CUBLAS_STATUS_SUCCESS ||
      get_property(PATCH_LEVEL, &patch) != CUBLAS_STATUS_SUCCESS) {
    row["error"] = "cublasGetProperty failed";
    return row;
  }
  row["loaded"] = triple(major, minor, patch);
  row["loaded_number"] = major * 10000 + minor * 100 + patch;
  if (auto cudart = symbol<decltype(&cublasGetCudartVersion)>(handle, "cublasGetCudartVersion", row))
    row["built_for_cuda"] = cuda_version_text(static_cast<int>(cudart()));
  return row;
}

json cublaslt_info() {
  json row;
  row["compiled"] = triple(CUBLAS_VER_MAJOR, CUBLAS_VER_MINOR, CUBLAS_VER_PATCH);
  void* handle = open_library("libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR), row);
  if (!handle) return row;
  auto get_version = symbol<decltype(&cublasLtGetVersion)>(handle, "cublasLtGetVersion", row);
  if (!get_version) return row;
  const int version = static_cast<int>(get_version());  // major * 10000 + minor * 100 + patch
  row["loaded"] = triple(version / 10000, version / 100 % 100, version % 100);
  row["loaded_number"] = version;
  return row;
}

json cudnn_info() {
  json row;
  row["compiled"] = triple(CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL);
  void* handle = open_library("libcudnn.so." + std::to_string(CUDNN_MAJOR), row);
  if (!handle) return row;
  auto get_version = symbol<decltype(&cudnnGetVersion)>(handle, "cudnnGetVersion", row);
  auto get_cudart = symbol<decltype(&cudnnGetCudartVersion)>(handle, "cudnnGetCudartVersion", row);
  if (!get_version || !get_cudart) return row;
  const int version = static_cast<int>(get_version());  // cuDNN 9: major * 10000 + minor * 100 + patch
  row["loaded"] = triple(version / 10000, version / 100 % 100, version % 100);
  row["loaded_number"] = version;
  row["built_for_cuda"] = cuda_version_text(static_cast<int>(get_cudart()));
  return row;
}

// Differences that could explain a failure or a slowdown, in words; empty when everything agrees.
json mismatches(const json& info) {
  json found = json::array();
  const std::string runtime = info["cuda_runtime"];
  const std::string runtime_major = runtime.substr(0, runtime.find('.'));
  for (const char* name : {"cublas", "cublasLt", "cudnn"}) {
    const json& lib = info[name];
    if (!lib.contains("loaded_number")) {
      found.push_back(std::string(name) + " not loadable: " + lib.value("error", std::string("unknown error")));
      continue;
    }
    const int compiled = name == std::string("cudnn")
                             ? CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL
                             : CUBLAS_VER_MAJOR * 10000 + CUBLAS_VER_MINOR * 100 + CUBLAS_VER_PATCH;
    if (lib["loaded_number"].get<int>() < compiled)
      found.push_back(std::string(name) + " " + lib["loaded"].get<std::string>() +
                      " is older than the headers loom was compiled against (" + lib["compiled"].get<std::string>() +
                      ")");
    if (lib.contains("built_for_cuda")) {
      const std::string built = lib["built_for_cuda"];
      if (built.substr(0, built.find('.')) != runtime_major)
        found.push_back(std::string(name) + " was built for CUDA " + built + ", loom's runtime is CUDA " + runtime);
    }
  }
  return found;
}

// The driver, runtime and libraries this build of the CUDA path meets, beside the versions it was compiled against.
void add_cuda_versions(json& info, bool usable) {
  int driver = 0, runtime = 0, devices = 0;
  cudaDriverGetVersion(&driver);  // 0: no driver installed
  cudaRuntimeGetVersion(&runtime);
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  (void)cudaGetLastError();  // the probe's verdict is what counts: clear the last-error slot behind these queries
  info["driver_cuda_version"] = driver ? cuda_version_text(driver) : "none";
  info["cuda_runtime"] = cuda_version_text(runtime);
  info["cuda_runtime_compiled"] = cuda_version_text(CUDART_VERSION);
  info["device_count"] = devices;
  if (usable) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
      info["multiprocessors"] = prop.multiProcessorCount;
      info["total_memory_bytes"] = prop.totalGlobalMem;
    }
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) info["free_memory_bytes"] = free_bytes;
  }
  info["cublas"] = cublas_info();
  info["cublasLt"] = cublaslt_info();
  info["cudnn"] = cudnn_info();
  info["mismatches"] = mismatches(info);
}

#else

// A build without the CUDA path, or with it on the CUDA simulator, links none of CUDA's libraries and asks no driver
// anything: each field says so.
void add_cuda_versions(json& info, bool) {
  const std::string reason = loom::probe_cuda().simulated
                                 ? std::string("this build runs CUDA code on the ") + loom::kCudaSimulatorName +
                                       " (LOOM_CUDA=SIM): no CUDA driver or library is used"
                                 : loom::no_cuda_path_reason();
  info["driver_cuda_version"] = "not asked (" + reason + ")";
  info["cuda_runtime"] = "none";
  info["cuda_runtime_compiled"] = "none";
  info["device_count"] = 0;
  for (const char* name : {"cublas", "cublasLt", "cudnn"}) info[name] = {{"compiled", "none"}, {"error", reason}};
  info["mismatches"] = json::array();
}

#endif

json collect() {
  const loom::CudaProbe& probe = loom::probe_cuda();
  json info;
  info["program"] = "device_info";
  info["gpu_usable"] = probe.usable;
  info["reason"] = probe.usable ? "" : probe.reason;
  info["gpu_name"] = probe.gpu_name;
  info["simulated"] = probe.simulated;  // the CUDA simulator (LOOM_CUDA=SIM), not a GPU
  info["compute_capability"] =
      probe.gpu_name.empty() ? "" : std::to_string(probe.compute_major) + "." + std::to_string(probe.compute_minor);

  info["cuda_path"] = loom::cuda_path_built();
  add_cuda_versions(info, probe.usable);
  const char* library_path = std::getenv("LD_LIBRARY_PATH");
  info["ld_library_path"] = library_path ? library_path : "";
  return info;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Report the GPU, driver, CUDA runtime, cuBLAS and cuDNN that loom finds, as JSON", "device_info"};
  std::string json_path;
  bool require_gpu = false;
  app.add_option("--json", json_path, "also write the JSON object here");
  app.add_flag("--require-gpu", require_gpu, "exit 1 (after reporting) when no GPU is usable");
  return loom::apps::run_guarded(app, argc, argv, [&] {
    if (!json_path.empty()) loom::bench::check_json_path(json_path);
    json info = collect();
    std::cout << info.dump(2) << "\n";
    if (!json_path.empty()) loom::bench::write_json_file(json_path, info);
    if (require_gpu && !info["gpu_usable"].get<bool>())
      throw loom::Error("no usable GPU: " + info["reason"].get<std::string>());
  });
}
