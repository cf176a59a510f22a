// Every verdict of the GPU probe, on any machine: classify_cuda_probe is a pure function of what the CUDA calls
// returned, so each failure a user could meet (no driver, old driver, no device, a build without code for the GPU)
// is fed to it as observations here instead of needing a machine that has that failure.
#include <string>

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include "engine/runtime/cuda_probe.h"

namespace loom {
namespace {

// What a healthy H100 machine reports: every stage succeeded. Each test breaks one stage.
CudaProbeObservations healthy_h100() {
  CudaProbeObservations seen;
  seen.driver_version = 13000;
  seen.runtime_version = 13000;
  seen.device_count_status = cudaSuccess;
  seen.device_count = 1;
  seen.properties_status = cudaSuccess;
  seen.gpu_name = "NVIDIA H100 80GB HBM3";
  seen.compute_major = 9;
  seen.compute_minor = 0;
  seen.kernel_status = cudaSuccess;
  return seen;
}

void expect_not_usable(const CudaProbe& probe, const std::string& reason) {
  EXPECT_FALSE(probe.usable);
  EXPECT_EQ(probe.reason, reason);
}

TEST(CudaProbeVerdict, HealthyGpuIsUsable) {
  const CudaProbe probe = classify_cuda_probe(healthy_h100());
  EXPECT_TRUE(probe.usable);
  EXPECT_EQ(probe.reason, "");
  EXPECT_EQ(probe.gpu_name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(probe.compute_major, 9);
  EXPECT_EQ(probe.compute_minor, 0);
}

TEST(CudaProbeVerdict, NoDriver) {
  expect_not_usable(classify_cuda_probe(CudaProbeObservations{}),
                    "no CUDA device found (no NVIDIA driver is installed)");
  // A zero driver version decides alone: the later stages never ran, whatever their fields hold.
  CudaProbeObservations seen = healthy_h100();
  seen.driver_version = 0;
  const CudaProbe probe = classify_cuda_probe(seen);
  expect_not_usable(probe, "no CUDA device found (no NVIDIA driver is installed)");
  EXPECT_EQ(probe.gpu_name, "");
}

TEST(CudaProbeVerdict, DriverOlderThanRuntime) {
  CudaProbeObservations seen = healthy_h100();
  seen.driver_version = 12020;
  seen.runtime_version = 13000;
  seen.device_count_status = cudaErrorInsufficientDriver;
  seen.device_count = 0;
  expect_not_usable(classify_cuda_probe(seen),
                    "the NVIDIA driver (CUDA 12.2) is older than this build's CUDA runtime (13.0): update the driver");
}

// Within one major version a newer runtime runs on an older driver (minor-version compatibility): only the
// runtime's own verdict (cudaErrorInsufficientDriver) makes the driver too old.
TEST(CudaProbeVerdict, OlderMinorDriverIsFineWhenTheRuntimeAccepts) {
  CudaProbeObservations seen = healthy_h100();
  seen.driver_version = 13000;
  seen.runtime_version = 13010;
  EXPECT_TRUE(classify_cuda_probe(seen).usable);
}

TEST(CudaProbeVerdict, NoDevice) {
  CudaProbeObservations seen = healthy_h100();
  seen.device_count_status = cudaErrorNoDevice;
  seen.device_count = 0;
  expect_not_usable(classify_cuda_probe(seen), "no CUDA device found");

  seen.device_count_status = cudaSuccess;  // the runtime may also say "no error, zero devices"
  expect_not_usable(classify_cuda_probe(seen), "no CUDA device found");
}

TEST(CudaProbeVerdict, OtherDeviceCountError) {
  CudaProbeObservations seen = healthy_h100();
  seen.device_count_status = cudaErrorInitializationError;
  seen.device_count = 0;
  expect_not_usable(classify_cuda_probe(seen),
                    std::string("CUDA is not usable: ") + cudaGetErrorString(cudaErrorInitializationError));
  EXPECT_NE(classify_cuda_probe(seen).reason, "CUDA is not usable: ");  // the runtime's words are in it
}

TEST(CudaProbeVerdict, NoKernelImageNamesTheGpuAndTheArchitectureToBuild) {
  for (cudaError_t status : {cudaErrorNoKernelImageForDevice, cudaErrorInvalidDeviceFunction}) {
    SCOPED_TRACE(cudaGetErrorName(status));
    CudaProbeObservations seen = healthy_h100();
    seen.kernel_status = status;
    const CudaProbe probe = classify_cuda_probe(seen);
    expect_not_usable(probe,
                      "this build has no kernel image for the GPU (NVIDIA H100 80GB HBM3, compute capability 9.0): "
                      "rebuild with -DCMAKE_CUDA_ARCHITECTURES=90");
    EXPECT_EQ(probe.gpu_name, "NVIDIA H100 80GB HBM3");  // what was found is kept beside the verdict
    EXPECT_EQ(probe.compute_major, 9);
  }
  // A two-digit major version and a non-zero minor one (a consumer Blackwell card).
  CudaProbeObservations seen = healthy_h100();
  seen.gpu_name = "NVIDIA GeForce RTX 5090";
  seen.compute_major = 12;
  seen.compute_minor = 0;
  seen.kernel_status = cudaErrorNoKernelImageForDevice;
  expect_not_usable(classify_cuda_probe(seen),
                    "this build has no kernel image for the GPU (NVIDIA GeForce RTX 5090, compute capability 12.0): "
                    "rebuild with -DCMAKE_CUDA_ARCHITECTURES=120");
  seen.compute_major = 8;
  seen.compute_minor = 6;
  seen.gpu_name = "NVIDIA GeForce RTX 3090";
  EXPECT_NE(classify_cuda_probe(seen).reason.find("compute capability 8.6): rebuild with "
                                                  "-DCMAKE_CUDA_ARCHITECTURES=86"),
            std::string::npos)
      << classify_cuda_probe(seen).reason;
}

TEST(CudaProbeVerdict, UnsupportedPtx) {
  CudaProbeObservations seen = healthy_h100();
  seen.driver_version = 12080;
  seen.runtime_version = 12090;
  seen.gpu_name = "NVIDIA B200";
  seen.compute_major = 10;
  seen.compute_minor = 0;
  seen.kernel_status = cudaErrorUnsupportedPtxVersion;
  expect_not_usable(classify_cuda_probe(seen),
                    "the NVIDIA driver (CUDA 12.8) cannot compile this build's PTX for the GPU (NVIDIA B200): update "
                    "the driver or rebuild with -DCMAKE_CUDA_ARCHITECTURES=100");
}

TEST(CudaProbeVerdict, OtherKernelFailure) {
  for (cudaError_t status : {cudaErrorMemoryAllocation, cudaErrorLaunchFailure, cudaErrorIllegalAddress}) {
    SCOPED_TRACE(cudaGetErrorName(status));
    CudaProbeObservations seen = healthy_h100();
    seen.kernel_status = status;
    const CudaProbe probe = classify_cuda_probe(seen);
    expect_not_usable(probe, std::string("the GPU failed a test kernel: ") + cudaGetErrorString(status));
    EXPECT_EQ(probe.gpu_name, "NVIDIA H100 80GB HBM3");
  }
}

// When cudaGetDeviceProperties fails, whatever its fields hold is not reported as the GPU's name.
TEST(CudaProbeVerdict, FailedPropertiesLeaveTheGpuUnnamed) {
  CudaProbeObservations seen = healthy_h100();
  seen.properties_status = cudaErrorInvalidDevice;
  seen.kernel_status = cudaErrorNoKernelImageForDevice;
  const CudaProbe probe = classify_cuda_probe(seen);
  EXPECT_FALSE(probe.usable);
  EXPECT_EQ(probe.gpu_name, "");
  EXPECT_EQ(probe.compute_major, 0);
  EXPECT_NE(probe.reason.find("no kernel image for the GPU ("), std::string::npos) << probe.reason;
}

// The real probe on this machine: whatever it finds, it says it in words.
TEST(CudaProbeVerdict, RealProbeExplainsItself) {
  const CudaProbe& probe = probe_cuda();
  if (probe.usable) {
    EXPECT_EQ(probe.reason, "");
    EXPECT_FALSE(probe.gpu_name.empty());
    EXPECT_GE(probe.compute_major, 5);
  } else {
    EXPECT_FALSE(probe.reason.empty());
  }
  EXPECT_EQ(&probe, &probe_cuda()) << "the probe runs once and is cached";
}

}  // namespace
}  // namespace loom
