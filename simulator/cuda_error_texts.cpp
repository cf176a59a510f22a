// cudaGetErrorName and cudaGetErrorString: CUDA's own names and texts for the codes loom meets or names, so that a
// message printed under the simulator reads as it would on a GPU.
#include <cuda_runtime_api.h>

namespace loom::sim {
namespace {

struct ErrorText {
  cudaError_t code;
  const char* name;
  const char* text;
};

#define LOOM_SIM_ERROR(code, text) \
  { code, #code, text }
constexpr ErrorText kErrorTexts[] = {
    LOOM_SIM_ERROR(cudaSuccess, "no error"),
    LOOM_SIM_ERROR(cudaErrorInvalidValue, "invalid argument"),
    LOOM_SIM_ERROR(cudaErrorMemoryAllocation, "out of memory"),
    LOOM_SIM_ERROR(cudaErrorInitializationError, "initialization error"),
    LOOM_SIM_ERROR(cudaErrorCudartUnloading, "driver shutting down"),
    LOOM_SIM_ERROR(cudaErrorInvalidConfiguration, "invalid configuration argument"),
    LOOM_SIM_ERROR(cudaErrorInvalidPitchValue, "invalid pitch argument"),
    LOOM_SIM_ERROR(cudaErrorInvalidSymbol, "invalid device symbol"),
    LOOM_SIM_ERROR(cudaErrorInvalidDevicePointer, "invalid device pointer"),
    LOOM_SIM_ERROR(cudaErrorInvalidMemcpyDirection, "invalid copy direction for memcpy"),
    LOOM_SIM_ERROR(cudaErrorInsufficientDriver, "CUDA driver version is insufficient for CUDA runtime version"),
    LOOM_SIM_ERROR(cudaErrorInvalidDeviceFunction, "invalid device function"),
    LOOM_SIM_ERROR(cudaErrorNoDevice, "no CUDA-capable device is detected"),
    LOOM_SIM_ERROR(cudaErrorInvalidDevice, "invalid device ordinal"),
    LOOM_SIM_ERROR(cudaErrorStartupFailure, "startup failure in cuda runtime"),
    LOOM_SIM_ERROR(cudaErrorInvalidKernelImage, "device kernel image is invalid"),
    LOOM_SIM_ERROR(cudaErrorNoKernelImageForDevice, "no kernel image is available for execution on the device"),
    LOOM_SIM_ERROR(cudaErrorInvalidPtx, "a PTX JIT compilation failed"),
    LOOM_SIM_ERROR(cudaErrorUnsupportedPtxVersion, "the provided PTX was compiled with an unsupported toolchain."),
    LOOM_SIM_ERROR(cudaErrorInvalidResourceHandle, "invalid resource handle"),
    LOOM_SIM_ERROR(cudaErrorIllegalState, "the operation cannot be performed in the present state"),
    LOOM_SIM_ERROR(cudaErrorNotReady, "device not ready"),
    LOOM_SIM_ERROR(cudaErrorIllegalAddress, "an illegal memory access was encountered"),
    LOOM_SIM_ERROR(cudaErrorLaunchOutOfResources, "too many resources requested for launch"),
    LOOM_SIM_ERROR(cudaErrorLaunchTimeout, "the launch timed out and was terminated"),
    LOOM_SIM_ERROR(cudaErrorAssert, "device-side assert triggered"),
    LOOM_SIM_ERROR(cudaErrorIllegalInstruction, "an illegal instruction was encountered"),
    LOOM_SIM_ERROR(cudaErrorMisalignedAddress, "misaligned address"),
    LOOM_SIM_ERROR(cudaErrorLaunchFailure, "unspecified launch failure"),
    LOOM_SIM_ERROR(cudaErrorNotPermitted, "operation not permitted"),
    LOOM_SIM_ERROR(cudaErrorNotSupported, "operation not supported"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureUnsupported, "operation not permitted when stream is capturing"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureInvalidated, "operation failed due to a previous error during capture"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureMerge, "operation would result in a merge of separate capture sequences"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureUnmatched, "capture was not ended in the same stream as it began"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureUnjoined, "capturing stream has unjoined work"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureIsolation, "dependency created on uncaptured work in another stream"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureImplicit,
                   "operation would make the legacy stream depend on a capturing blocking stream"),
    LOOM_SIM_ERROR(cudaErrorCapturedEvent, "operation not permitted on an event last recorded in a capturing stream"),
    LOOM_SIM_ERROR(cudaErrorStreamCaptureWrongThread,
                   "attempt to terminate a thread-local capture sequence from another thread"),
    LOOM_SIM_ERROR(cudaErrorUnknown, "unknown error"),
};
#undef LOOM_SIM_ERROR

const ErrorText* find_text(cudaError_t code) {
  for (const ErrorText& entry : kErrorTexts)
    if (entry.code == code) return &entry;
  return nullptr;
}

constexpr const char* kUnrecognized = "unrecognized error code";

}  // namespace

extern "C" {

const char* cudaGetErrorName(cudaError_t code) {
  const ErrorText* entry = find_text(code);
  return entry ? entry->name : kUnrecognized;
}

const char* cudaGetErrorString(cudaError_t code) {
  const ErrorText* entry = find_text(code);
  return entry ? entry->text : kUnrecognized;
}

}  // extern "C"

}  // namespace loom::sim
