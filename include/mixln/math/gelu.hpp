// mixln/math/gelu.hpp — the exact GELU (PyTorch's nn.GELU(), approximate="none"), an
// elementwise functor for Backend::map_forward / map_backward:
//
//   gelu(x)  = x·Φ(x) = ½x·(1 + erf(x/√2))
//   gelu'(x) = Φ(x) + x·φ(x),   φ(x) = exp(−x²/2)/√(2π)
#pragma once

#include <cmath>

#include "../config.hpp"

namespace mixln {

struct GeluErf {
  template <class T>
  MIXLN_HD static T forward(T x) {
    using std::erf;
    return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
  }
  template <class T>
  MIXLN_HD static T backward(T x, T dy) {
    using std::erf;
    using std::exp;
    const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
    const T pdf = exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return dy * (cdf + x * pdf);
  }
};

}  // namespace mixln
