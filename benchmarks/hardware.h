// What the benchmarks compare their timings with: the device's name, its FP32 peak and memory bandwidth (datasheet
// figures, by GPU name; override with flags), and how they write their JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "engine/runtime/device.h"

namespace loom::bench {

struct Hardware {
  std::string name;
  double fp32_peak_tflops = 0;      // 0: unknown
  double memory_bandwidth_gbs = 0;  // 0: unknown
};

// The device a benchmark times: `device` as resolved from the --device flag `flag`, except that the CUDA simulator
// (a build with LOOM_CUDA=SIM) is never timed as a GPU: under "auto" the CPU is timed instead (saying so in *note),
// and an explicit "cuda" is refused (loom::UsageError), since the simulator's times are the CPU's.
Device timed_device(Device device, const std::string& flag, std::string* note);

// GPU: by name (H100 SXM/PCIe, H200, A100, L4, ...); CPU: the processor's model name, peaks unknown.
// A positive override replaces the table's FP32 peak.
Hardware describe_hardware(Device device, double fp32_peak_override = 0);

// Refuses (loom::UsageError, "--json: file '<path>' ...") a --json path that write_json_file could not write, so a
// benchmark finds out before it runs rather than after minutes of timing.
void check_json_path(const std::string& path);

// Writes `json` to `path` with engine/io's write_file_atomically, the writer of every loom output file: a failure
// leaves no file, or the previous one, and is a loom::Error naming the path; a special file is refused.
void write_json_file(const std::string& path, const nlohmann::json& json);

}  // namespace loom::bench
