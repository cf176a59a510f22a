// What the benchmarks compare their timings with: the device's name, its FP32 peak and memory bandwidth (datasheet
// figures, by GPU name; override with flags), and a safe way to write their JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/runtime/device.h"

namespace loom::bench {

struct Hardware {
  std::string name;
  double fp32_peak_tflops = 0;    // 0: unknown
  double memory_bandwidth_gbs = 0;  // 0: unknown
};

// GPU: by name (H100 SXM/PCIe, H200, A100, L4, ...); CPU: the processor's model name, peaks unknown.
// A positive override replaces the table's FP32 peak.
Hardware describe_hardware(Device device, double fp32_peak_override = 0);

// Writes `json` to `path` through a temporary file and a rename, so a failed run never leaves half a file.
void write_json_file(const std::string& path, const nlohmann::json& json);

}  // namespace loom::bench
