#include "benchmarks/hardware.h"

#include <fstream>

#include "engine/io/atomic_file.h"
#include "engine/runtime/errors.h"

namespace loom::bench {
namespace {

struct KnownGpu {
  const char* name_part;
  double fp32_tflops;
  double bandwidth_gbs;
};

// NVIDIA datasheet figures (dense FP32 on the CUDA cores, not tensor cores; HBM/GDDR bandwidth). First match wins,
// so the more specific names come first.
constexpr KnownGpu kKnownGpus[] = {
    {"GH200", 66.9, 4000},
    {"H200", 66.9, 4800},
    {"H100 PCIe", 51.2, 2000},
    {"H100 NVL", 60.0, 3900},
    {"H100", 66.9, 3350},
    {"A100-SXM4-80GB", 19.5, 2039},
    {"A100 80GB PCIe", 19.5, 1935},
    {"A100", 19.5, 1555},
    {"L40S", 91.6, 864},
    {"L40", 90.5, 864},
    {"L4", 30.3, 300},
    {"A10", 31.2, 600},
};

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line))
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown CPU";
}

}  // namespace

Device timed_device(Device device, const std::string& flag, std::string* note) {
  if (device != Device::CUDA || !probe_cuda().simulated) return device;
  if (flag != "auto")
    throw UsageError("--device " + flag + ": the CUDA device of this build is the " + kCudaSimulatorName +
                     ", which runs CUDA code on the CPU: its times are not a GPU's (benchmark a build without "
                     "LOOM_CUDA=SIM on a GPU)");
  *note = std::string("--device auto: the CUDA device is the ") + kCudaSimulatorName + ", timing the CPU instead";
  return Device::CPU;
}

Hardware describe_hardware(Device device, double fp32_peak_override) {
  Hardware hw;
  if (device == Device::CUDA) {
    hw.name = probe_cuda().gpu_name;
    for (const KnownGpu& gpu : kKnownGpus)
      if (hw.name.find(gpu.name_part) != std::string::npos) {
        hw.fp32_peak_tflops = gpu.fp32_tflops;
        hw.memory_bandwidth_gbs = gpu.bandwidth_gbs;
        break;
      }
  } else {
    hw.name = cpu_model_name();
  }
  if (fp32_peak_override > 0) hw.fp32_peak_tflops = fp32_peak_override;
  return hw;
}

void check_json_path(const std::string& path) { check_writable_path(path, "--json: file"); }

void write_json_file(const std::string& path, const nlohmann::json& json) {
  write_file_atomically(path, json.dump(2) + "\n");
}

}  // namespace loom::bench
