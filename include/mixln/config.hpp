// mixln/config.hpp — macros shared by every header, host and device.
//
// MIXLN_HD marks the per-element and per-row math that both backends run: under nvcc it is
// `__forceinline__ __host__ __device__`, elsewhere plain `inline`. Keep Boost.Hana and the
// standard library's heavier headers out of anything marked MIXLN_HD.
#pragma once

#if defined(__CUDACC__)
#define MIXLN_HD __forceinline__ __host__ __device__
#define MIXLN_DEVICE_COMPILE 1
#else
#define MIXLN_HD inline
#endif

#if defined(__CUDACC__) || defined(__clang__)
#define MIXLN_UNROLL _Pragma("unroll")
#elif defined(__GNUC__)
#define MIXLN_UNROLL _Pragma("GCC unroll 8")
#else
#define MIXLN_UNROLL
#endif

#define MIXLN_VERSION_MAJOR 0
#define MIXLN_VERSION_MINOR 1
#define MIXLN_VERSION_PATCH 0

namespace mixln {
// RoPE base θ (docs/design.md §3.2).
inline constexpr double kRopeTheta = 10000.0;
// Label value that contributes no loss, as in PyTorch's cross_entropy.
inline constexpr long long kIgnoreIndex = -100;
}  // namespace mixln
