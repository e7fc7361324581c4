// mixln/math/gelu.hpp — the exact GELU (PyTorch's nn.GELU(), approximate="none"), an
// elementwise functor for Backend::map_forward / map_backward:
//
//   gelu(x)  = x·Φ(x) = ½x·(1 + erf(x/√2))
//   gelu'(x) = Φ(x) + x·φ(x),   φ(x) = exp(−x²/2)/√(2π)
#pragma once

#include <cmath>

#include "../config.hpp"

namespace mixln {

namespace detail {
// erf and exp on the host (float or double) and on the device (float: CUDA's erff, expf).
template <class T>
MIXLN_HD T gelu_erf(T x) {
#if defined(__CUDA_ARCH__)
  return T(erff(float(x)));
#else
  return std::erf(x);
#endif
}
template <class T>
MIXLN_HD T gelu_exp(T x) {
#if defined(__CUDA_ARCH__)
  return T(expf(float(x)));
#else
  return std::exp(x);
#endif
}
}  // namespace detail

struct GeluErf {
  template <class T>
  MIXLN_HD static T forward(T x) {
    return T(0.5) * x * (T(1) + detail::gelu_erf(x * T(0.70710678118654752440)));
  }
  template <class T>
  MIXLN_HD static T backward(T x, T dy) {
    const T cdf = T(0.5) * (T(1) + detail::gelu_erf(x * T(0.70710678118654752440)));
    const T pdf = detail::gelu_exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return dy * (cdf + x * pdf);
  }
};

}  // namespace mixln
