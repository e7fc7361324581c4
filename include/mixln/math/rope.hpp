// mixln/math/rope.hpp — rotary position embedding, Hugging Face "rotate_half" convention.
//
// For a head of dimension D (even), half = D/2, element i < half pairs with i + half:
//   out[i]        = v[i]·cos θᵢ − v[i+half]·sin θᵢ
//   out[i+half]   = v[i+half]·cos θᵢ + v[i]·sin θᵢ,     θᵢ = pos / base^(2i/D)
// The backward is the transposed rotation (the angle negated).
#pragma once

#include <cmath>

#include "../config.hpp"

namespace mixln {

// The cos/sin tables [seq, head_dim/2] for positions 0..seq-1, on the host (both backends:
// the CPU uses them where they are, the CUDA backend copies them to the device). The quirk,
// kept on purpose: θᵢ's inverse frequency base^(−2i/D) is computed in double and then rounded
// to float — as Hugging Face holds `inv_freq` (a float32 buffer) — while the angle t·inv_freq
// and its cos and sin are taken in double and rounded once to T.
template <class T>
MIXLN_HD void rope_tables(int seq, int head_dim, T* cos_out, T* sin_out) {
  const int half = head_dim / 2;
  for (int t = 0; t < seq; ++t)
    for (int i = 0; i < half; ++i) {
      const double inv_freq = 1.0 / std::pow(kRopeTheta, double(2 * i) / head_dim);
      const double ang = double(t) * double(float(inv_freq));
      cos_out[t * half + i] = T(std::cos(ang));
      sin_out[t * half + i] = T(std::sin(ang));
    }
}

// Rotates one head in place; cs and sn hold cos θᵢ and sin θᵢ for i < half.
template <class T>
MIXLN_HD void rope_rotate(T* v, const T* cs, const T* sn, int half) {
  for (int i = 0; i < half; ++i) {
    const T a = v[i], b = v[i + half];
    v[i] = a * cs[i] - b * sn[i];
    v[i + half] = b * cs[i] + a * sn[i];
  }
}

// The gradient of rope_rotate, in place: R(θ)ᵀ = R(−θ).
template <class T>
MIXLN_HD void rope_rotate_backward(T* dv, const T* cs, const T* sn, int half) {
  for (int i = 0; i < half; ++i) {
    const T a = dv[i], b = dv[i + half];
    dv[i] = a * cs[i] + b * sn[i];
    dv[i + half] = b * cs[i] - a * sn[i];
  }
}

}  // namespace mixln
