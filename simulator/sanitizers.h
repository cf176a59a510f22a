// Which sanitizer a simulator file is compiled under (g++ says so with __SANITIZE_*__, clang with __has_feature):
// LOOM_SIM_ASAN for AddressSanitizer, LOOM_SIM_TSAN for ThreadSanitizer. Fiber switches and device memory are told
// to the sanitizer in use.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define LOOM_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOOM_SIM_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define LOOM_SIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LOOM_SIM_TSAN 1
#endif
#endif
