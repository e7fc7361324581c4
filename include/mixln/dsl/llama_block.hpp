// mixln/dsl/llama_block.hpp — one LLaMA transformer layer without its residual-stream norms.
//
//   LlamaBlock<Cfg>                      causal self-attention (RoPE), then the SwiGLU MLP
//   LlamaBlock<Cfg, QKNorm<PerHead>>     with per-head QK-norm (Qwen 3, Gemma 3)
//   LlamaBlock<Cfg, QKNorm<FullWidth>>   with full-width QK-norm (OLMo 2)
//   LlamaBlock<Cfg, QKVNorm<FullWidth>>  with full-width QKV-norm (HybridNorm)
//
// A block is a list of branches (dsl/branch.hpp); it owns their weights and their forward and
// backward passes. Where the norms of the residual stream go is not the block's business: a
// placement (dsl/placement.hpp) wraps the block and names them. LlamaBlock is one block among
// others — examples/gelu_block.hpp writes another outside the library.
#pragma once

#include <type_traits>

#include "branches/attention.hpp"
#include "branches/swiglu_mlp.hpp"
#include "llama_config.hpp"
#include "../type_list.hpp"

namespace mixln {

namespace detail {
template <class... Options>
struct attention_norm_option {
  using type = NoAttentionNorm;
};
template <class O>
struct attention_norm_option<O> {
  using type = O;
};
}  // namespace detail

template <class Cfg, class... Options>
struct LlamaBlock {
  static_assert(is_llama_config_v<Cfg>,
                "LlamaBlock: the argument must be a LlamaConfig<vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>>");
  static_assert((is_attention_norm_v<Options> && ...),
                "LlamaBlock: an option must be an attention norm: QKNorm<PerHead>, QKNorm<FullWidth> or "
                "QKVNorm<FullWidth> (with an optional norm kind)");
  static_assert(sizeof...(Options) <= 1, "LlamaBlock: give at most one attention norm option");
  using config = Cfg;
  using attention_norm = typename detail::attention_norm_option<Options...>::type;
  static constexpr const char* name = attention_norm::block_name;  // "llama", "llama+qk_norm[full]"
  using branches = type_list<LlamaAttention<Cfg, attention_norm>, SwiGLUMLP<Cfg>>;
};

}  // namespace mixln
