// mixln/math/fast_tanh.hpp — tanh without library calls, so that loops over it vectorise
// (DyT's forward and backward, the GELU of examples/gelu_block.hpp).
//
// The odd 13/6-degree rational approximation Eigen uses, on x clamped to [−9, 9] (beyond,
// tanh is ±1 in float): relative error ≤ 4e-7 (3.2e-7 measured) over the float range (checked against std::tanh
// in tests/test_kernels.cpp). The double overload is std::tanh (the finite-difference tests
// run in double).
#pragma once

#include <cmath>

#include "../config.hpp"

namespace mixln {

MIXLN_HD float fast_tanh(float x) {
  x = x < -9.f ? -9.f : (x > 9.f ? 9.f : x);
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;  // numerator: x · (α₁ + α₃x² + ... + α₁₃x¹²)
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;  // denominator: β₀ + β₂x² + β₄x⁴ + β₆x⁶
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  return x * p / q;
}

inline double fast_tanh(double x) { return std::tanh(x); }

}  // namespace mixln
