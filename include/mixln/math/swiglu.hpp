// mixln/math/swiglu.hpp — the SwiGLU gate, element by element.
//
//   act = silu(g) · u,  silu(g) = g · σ(g)
//   dg = dact · u · σ(g) · (1 + g · (1 − σ(g))),   du = dact · silu(g)
#pragma once

#include <cmath>

#include "../config.hpp"
#include "fast_exp.hpp"

namespace mixln {

template <class T>
MIXLN_HD T sigmoid(T x) {
  return T(1) / (T(1) + fast_exp(-x));
}

template <class T>
MIXLN_HD T swiglu(T g, T u) {
  return g * sigmoid(g) * u;
}

template <class T>
MIXLN_HD void swiglu_backward(T g, T u, T dact, T& dg, T& du) {
  const T sg = sigmoid(g);
  const T silu = g * sg;
  dg = dact * u * sg * (T(1) + g * (T(1) - sg));
  du = dact * silu;
}

}  // namespace mixln
