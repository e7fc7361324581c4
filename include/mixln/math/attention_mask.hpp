// mixln/math/attention_mask.hpp — which keys a query row of self-attention sees.
//
//   causal   row t sees keys j ≤ t (a language model: no token sees its future)
//   none     every row sees every key of its sequence (an encoder: a ViT's patches)
#pragma once

namespace mixln {

enum class AttentionMask { causal, none };

constexpr const char* attention_mask_name(AttentionMask m) { return m == AttentionMask::causal ? "causal" : "none"; }

}  // namespace mixln
