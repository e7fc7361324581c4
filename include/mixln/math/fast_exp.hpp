// mixln/math/fast_exp.hpp — exp without branches or library calls, so that loops over it
// vectorise (the CPU's softmax, cross-entropy and SwiGLU spend their time here).
//
// Cody–Waite reduction x = n·ln2 + r, |r| ≤ ln2/2, and the Cephes degree-6 polynomial for
// e^r: relative error ≤ 2e-7 over the float range (checked against std::exp in
// tests/test_kernels.cpp). Inputs are clamped to [−87.3, 88.0], so the result is never 0, inf
// or NaN for finite input: e^x for x < −87.3 comes out as 1.2e-38 instead of a subnormal.
// The double overload is std::exp (the finite-difference tests run in double).
#pragma once

#include <cmath>
#include <cstdint>

#include "../config.hpp"
#include "half.hpp"

namespace mixln {

MIXLN_HD float fast_exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
  // n = round(x / ln2), by the 1.5·2^23 trick: no floor(), which would stop vectorisation
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  const std::uint32_t scale = std::uint32_t(int(n) + 127) << 23;
  return y * bits_float(scale);
}

inline double fast_exp(double x) { return std::exp(x); }

}  // namespace mixln
