// mixln/dsl/model.hpp — a whole model as a type.
//
//   using Net = Model<Cfg, Stack<PostLN<LlamaBlock<Cfg>>, 3, PreLN<LlamaBlock<Cfg>>, 9>>;
//   using Dyt = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>, DyT<>>, 8>, DyT<>>;   // final norm DyT
//
// input stage → (its output's norms) → layers of the stack → final norm (`model.norm`, for
// every stack; RMSNorm unless a third argument names another kind) → head. The input stage
// and the head are the fifth and sixth arguments (dsl/model_ends.hpp), by default a language
// model's: embed_tokens and an untied lm_head with the token cross-entropy. The input stage's
// output enters layer 0 as it is unless a fourth argument names norms for it:
//   using Dyt = Model<Cfg, Stack<PreLN<B, DyT<>>, 8>, DyT<>, ScaledEmbedding>;   // × s, s₀ = √C
// A Vision Transformer changes the two ends (dsl/vision_ends.hpp):
//   using Vit = Model<Cfg, MixLN<VitBlock<Cfg>, 12, std::ratio<1, 4>, LayerNorm>, LayerNorm, PlainEmbedding,
//                     PatchEmbedding<Cfg, image<28>, patch<4>, channels<1>>, ClassHead<Cfg, classes<10>>>;
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "concepts.hpp"
#include "model_ends.hpp"
#include "stack.hpp"

namespace mixln {

namespace detail {
template <class Cfg, class P>
struct check_layer_config {
  static constexpr bool value = std::is_same_v<typename P::config, Cfg>;
  static_assert(value,
                "Model: a layer's block was built for a different LlamaConfig than the Model's "
                "(use LlamaBlock<Cfg> with the Model's Cfg in every placement)");
};
template <class Cfg, class S, int... I>
constexpr bool check_layer_configs(std::integer_sequence<int, I...>) {
  return (check_layer_config<Cfg, typename S::template layer<I>>::value && ...);
}
template <class N>
struct check_final_norm {
  static_assert(NormKind<N>,
                "Model: the third argument (the final norm) must be a norm kind such as RMSNorm, "
                "LayerNorm or DyT<>");
  static constexpr bool value = NormKind<N>;
};
}  // namespace detail

struct model_tag {};

// The embedding output's norms (Model's fourth argument): a SubLayer of PostNorm slots only,
// applied in order to the token embedding before layer 0; their parameters are named
// `model.<name>.*`. ScaledEmbedding is DyT's LLaMA recipe (a learned scalar, initialised to
// √C); NormedEmbedding<K> the embedding norm of Peri-LN and OLMo-core.
using PlainEmbedding = SubLayer<>;
using ScaledEmbedding = SubLayer<PostNorm<EmbedScale, "embed_scale">>;
template <class K = RMSNorm>
using NormedEmbedding = SubLayer<PostNorm<K, "embedding_norm">>;

namespace detail {
template <class E>
struct check_embedding_output {
  static constexpr bool sublayer = is_sublayer_v<E>;
  static_assert(sublayer,
                "Model: the fourth argument (the embedding output's norms) must be a SubLayer<PostNorm<Kind, "
                "\"name\">...> such as ScaledEmbedding or NormedEmbedding<RMSNorm>");
  static constexpr bool value = [] {
    if constexpr (sublayer) return E::pre::size == 0 && E::branch::size == 0 && !E::skip_from_layer_input;
    else return false;
  }();
  static_assert(!sublayer || value,
                "Model: the embedding output takes PostNorm slots only (no PreNorm, BranchNorm or "
                "SkipFromLayerInput: there is no branch before layer 0)");
};
}  // namespace detail

template <class Cfg, class S, class FinalNorm = RMSNorm, class EmbeddingOutput = PlainEmbedding,
          class Input = TokenEmbedding<Cfg>, class Head = LmHead<Cfg>>
struct Model : model_tag {
  static_assert(is_llama_config_v<Cfg>,
                "Model: the first argument must be a LlamaConfig<vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>> (vocab<V> only where an end needs it)");
  static_assert(is_stack_v<S>,
                "Model: the second argument must be a Stack<Placement, count, ...> (or MixLN)");
  static_assert(detail::check_final_norm<FinalNorm>::value);
  static_assert(detail::check_embedding_output<EmbeddingOutput>::value);
  static_assert(check_input_stage<Input>::value);
  static_assert(check_head<Head>::value);

  using config = Cfg;
  using input = Input;
  using head = Head;
  using stack = S;
  using final_norm = FinalNorm;
  using embedding_output = EmbeddingOutput;
  static constexpr int num_layers = S::num_layers;
  static_assert(detail::check_layer_configs<Cfg, S>(std::make_integer_sequence<int, num_layers>{}));

  template <int I>
  using layer = typename S::template layer<I>;

  static constexpr std::size_t V = Cfg::vocab_size, C = Cfg::hidden_size,
                               I = Cfg::intermediate_size, H = Cfg::num_heads,
                               D = Cfg::head_dim;

  // Placement and block name of every layer, for `info`, checkpoints and the export.
  static constexpr std::array<const char*, num_layers> placement_names =
      []<int... L>(std::integer_sequence<int, L...>) {
        return std::array<const char*, num_layers>{layer<L>::name...};
      }(std::make_integer_sequence<int, num_layers>{});
  static constexpr std::array<const char*, num_layers> block_names =
      []<int... L>(std::integer_sequence<int, L...>) {
        return std::array<const char*, num_layers>{layer<L>::block::name...};
      }(std::make_integer_sequence<int, num_layers>{});
};

template <class T>
inline constexpr bool is_model_v = std::is_base_of_v<model_tag, T>;

}  // namespace mixln
