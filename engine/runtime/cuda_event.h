// A CUDA event recorded on the context's stream: the way host code learns, without stalling the stream, that the work
// queued before it has run, and how long it took. Named by the struct CUDA declares it with (cudaEvent_t is
// CUevent_st*), so its users compile without CUDA's headers; in a build without the CUDA path it cannot be made.
#pragma once

struct CUevent_st;

namespace loom {

class CudaEvent {
 public:
  enum class Timing { Off, On };
  explicit CudaEvent(Timing timing);
  ~CudaEvent();
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;

  void record();                       // behind the work queued so far on the context's stream
  bool done() const;                   // whether that work has run; never blocks
  void wait() const;                   // blocks until it has
  void wait_or_warn() const noexcept;  // the same for destructors: a failure is printed as a warning
  // Milliseconds of stream time between two recorded events (both made with Timing::On); waits for `stop`.
  static double elapsed_ms(const CudaEvent& start, const CudaEvent& stop);

 private:
  CUevent_st* event_ = nullptr;
};

}  // namespace loom
