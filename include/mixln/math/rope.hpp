// mixln/math/rope.hpp — rotary position embedding, Hugging Face "rotate_half" convention.
//
// For a head of dimension D (even), half = D/2, element i < half pairs with i + half:
//   out[i]        = v[i]·cos θᵢ − v[i+half]·sin θᵢ
//   out[i+half]   = v[i+half]·cos θᵢ + v[i]·sin θᵢ,     θᵢ = pos / base^(2i/D)
// The backward is the transposed rotation (the angle negated).
#pragma once

#include "../config.hpp"

namespace mixln {

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
