// mixln/math/rmsnorm.hpp — RMSNorm statistics shared by every op that normalises.
//
//   y = x · r · w,  r = 1 / sqrt(mean(x²) + eps)          (statistics in fp32 or wider)
//   x̂ = x · r;  dw += dy · x̂;  dx = r · (dy·w − x̂ · mean(dy·w·x̂))
#pragma once

#include <cmath>

#include "../config.hpp"

namespace mixln {

// r from Σx² over a row of n elements.
template <class T>
MIXLN_HD T rms_rstd(T sum_squares, int n) {
  using std::sqrt;
  return T(1) / sqrt(sum_squares / T(n) + T(kNormEps));
}

}  // namespace mixln
