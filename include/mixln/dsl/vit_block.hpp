// mixln/dsl/vit_block.hpp — one Vision Transformer layer without its residual-stream norms:
// timm's `Block` (VisionTransformer) minus norm1 and norm2, which a placement names.
//
//   VitBlock<Cfg>    self-attention without a mask (biases, no RoPE), then the GELU MLP
//
// Any placement wraps it as it wraps LlamaBlock, with the norm kind the ViT uses:
//   Stack<PostLN<VitBlock<Cfg>, LayerNorm>, 3, PreLN<VitBlock<Cfg>, LayerNorm>, 9>   Mix-LN
// Cfg gives hidden_size, intermediate_size (the MLP's width) and num_heads.
#pragma once

#include "branches/gelu_mlp.hpp"
#include "branches/vit_attention.hpp"
#include "llama_config.hpp"
#include "../type_list.hpp"

namespace mixln {

template <class Cfg>
struct VitBlock {
  static_assert(is_llama_config_v<Cfg>,
                "VitBlock: the argument must be a LlamaConfig<vocab<V>, hidden<H>, intermediate<I>, heads<N>> "
                "(the block uses hidden, intermediate and heads)");
  using config = Cfg;
  static constexpr const char* name = "vit";
  using branches = type_list<VitAttention<Cfg>, GeluMLP<Cfg>>;
};

}  // namespace mixln
