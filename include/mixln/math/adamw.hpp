// mixln/math/adamw.hpp — one Adam/AdamW update of one parameter, host and device.
//
//   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
//   p ← p − lr · ( m/(1−β₁ᵗ) / (√(v/(1−β₂ᵗ)) + ε) + λ·p )        AdamW (decoupled decay)
//   Adam (coupled, PyTorch's torch.optim.Adam): g ← g + λ·p before the moments.
#pragma once

#include <cmath>
#include <cstddef>

#include "../config.hpp"

namespace mixln {

struct AdamHyper {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.f;
  bool decoupled = true;  // AdamW; false: Adam with L2 added to the gradient
  float bias1 = 1.f, bias2 = 1.f;  // 1 − β₁ᵗ, 1 − β₂ᵗ for the current step t
};

// One piece of the flat parameter buffer the optimizer updates in one launch: parameters and
// gradients at `param`, moments at `moment` (the moments may hold a ZeRO-1 slice only), `count`
// elements, decayed or not (norm weights are not). train/optimizer.hpp cuts the buffer into
// pieces of at most kAdamChunk elements, so that one launch spreads them evenly.
struct AdamChunk {
  std::size_t param = 0, moment = 0, count = 0;
  int decay = 0;
};
inline constexpr std::size_t kAdamChunk = std::size_t(1) << 16;

template <class T>
MIXLN_HD void adam_update(T& p, T g, T& m, T& v, const AdamHyper& h, bool decay) {
  using std::sqrt;
  const T wd = decay ? T(h.weight_decay) : T(0);
  if (!h.decoupled) g += wd * p;
  m = T(h.beta1) * m + (T(1) - T(h.beta1)) * g;
  v = T(h.beta2) * v + (T(1) - T(h.beta2)) * g * g;
  const T mhat = m / T(h.bias1);
  const T vhat = v / T(h.bias2);
  T update = mhat / (sqrt(vhat) + T(h.eps));
  if (h.decoupled) update += wd * p;
  p -= T(h.lr) * update;
}

}  // namespace mixln
