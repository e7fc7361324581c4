// mixln/dsl/model.hpp — a whole language model as a type.
//
//   using Net = Model<Cfg, Stack<PostLN<LlamaBlock<Cfg>>, 3, PreLN<LlamaBlock<Cfg>>, 9>>;
//   using Dyt = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>, DyT<>>, 8>, DyT<>>;   // final norm DyT
//
// embed_tokens → layers of the stack → final norm (`model.norm`, for every stack; RMSNorm
// unless a third argument names another kind) → lm_head. Embeddings and lm_head are untied;
// the embedding output enters layer 0 unscaled.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "concepts.hpp"
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

template <class Cfg, class S, class FinalNorm = RMSNorm>
struct Model : model_tag {
  static_assert(is_llama_config_v<Cfg>,
                "Model: the first argument must be a LlamaConfig<vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>>");
  static_assert(is_stack_v<S>,
                "Model: the second argument must be a Stack<Placement, count, ...> (or MixLN)");
  static_assert(detail::check_final_norm<FinalNorm>::value);

  using config = Cfg;
  using stack = S;
  using final_norm = FinalNorm;
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
