// examples/b2t.hpp — a placement written outside the library: B2T (Takase et al., 2022,
// "B2T Connection: Serving Stability and Performance in Deep Transformers").
//
// B2T is Post-LN plus one extra residual connection per layer, from the layer's input to the
// input of its last norm, bypassing every norm of the layer but that one:
//
//   h  = N₁(x + Attn(x))
//   x' = N₂(h + MLP(h) + x)
//
// Everything mixln needs to know is declared here: the norm around each sub-layer (its kind
// and weight name), and that the MLP's sum takes the layer input. The schedule then derives
// the fused boundaries (add -> norm, add+skip -> norm) and their backward passes.
#pragma once

#include <mixln/mixln.hpp>

namespace b2t {

template <class Block, class N = mixln::RMSNorm>
struct B2T : mixln::placement<Block> {
  static constexpr const char* name = "B2T";
  using attn = mixln::SubLayer<mixln::PostNorm<N, "post_attention_layernorm">>;
  using mlp = mixln::SubLayer<mixln::PostNorm<N, "post_feedforward_layernorm">, mixln::SkipFromLayerInput>;
};

}  // namespace b2t
