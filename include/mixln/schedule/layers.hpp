// mixln/schedule/layers.hpp — compile-time facts about the sub-layers and boundaries of a Model.
//
// A model of L layers has 2L sub-layers (2i: attention of layer i, 2i+1: its MLP) and 2L+1
// boundaries: boundary k sits before sub-layer k; boundary 0 takes the embedding, boundary 2L
// ends with the final norm. `boundary_kind<Net, k>()` is the fused op the type demands there.
#pragma once

#include <array>
#include <string>

#include "../dsl/model.hpp"
#include "../math/boundary.hpp"

namespace mixln {

// The norms of sub-layer k (0 ≤ k < 2L).
template <class Net, int k>
constexpr SubLayerNorms sublayer_norms() {
  using P = typename Net::template layer<k / 2>;
  return k % 2 == 0 ? P::attn : P::mlp;
}

template <class Net, int k>
constexpr BoundaryKind boundary_kind() {
  constexpr int L = Net::num_layers;
  static_assert(k >= 0 && k <= 2 * L);
  BoundaryKind K{};
  if constexpr (k == 0) {
    K.residual = false;
  } else {
    constexpr SubLayerNorms end = sublayer_norms<Net, k - 1>();
    K.branch_norm = end.branch != nullptr;
    K.end_norm = end.post != nullptr;
    K.skip = end.skip_from_layer_input;
  }
  if constexpr (k == 2 * L) {
    K.start_norm = true;  // the model's final norm
  } else {
    K.start_norm = sublayer_norms<Net, k>().pre != nullptr;
    if constexpr (k % 2 == 0) K.skip_grad_in = sublayer_norms<Net, k + 1>().skip_from_layer_input;
  }
  return K;
}

// Short human-readable name of a boundary kind, for `info`: "add -> norm | norm -> h".
inline std::string describe(const BoundaryKind& K) {
  std::string s;
  if (K.branch_norm) s += "norm(f) ";
  s += K.residual ? (K.skip ? "add+skip" : "add") : "embed";
  if (K.end_norm) s += " -> norm";
  if (K.start_norm) s += " | norm -> h";
  return s;
}

template <class Net>
constexpr bool has_skip() {
  return []<int... k>(std::integer_sequence<int, k...>) {
    return (sublayer_norms<Net, k>().skip_from_layer_input || ... || false);
  }(std::make_integer_sequence<int, 2 * Net::num_layers>{});
}

}  // namespace mixln
