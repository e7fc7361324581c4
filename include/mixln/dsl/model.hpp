// mixln/dsl/model.hpp — a whole language model as a type.
//
//   using Net = Model<Cfg, Stack<PostLN<LlamaBlock<Cfg>>, 3, PreLN<LlamaBlock<Cfg>>, 9>>;
//
// embed_tokens → layers of the stack → final norm (`model.norm`, for every stack) → lm_head.
// Embeddings and lm_head are untied; the embedding output enters layer 0 unscaled.
#pragma once

#include <array>
#include <cstddef>
#include <type_traits>
#include <utility>

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
}  // namespace detail

struct model_tag {};

template <class Cfg, class S>
struct Model : model_tag {
  static_assert(is_llama_config_v<Cfg>,
                "Model: the first argument must be a LlamaConfig<vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>>");
  static_assert(is_stack_v<S>,
                "Model: the second argument must be a Stack<Placement, count, ...> (or MixLN)");

  using config = Cfg;
  using stack = S;
  static constexpr int num_layers = S::num_layers;
  static_assert(detail::check_layer_configs<Cfg, S>(std::make_integer_sequence<int, num_layers>{}));

  template <int I>
  using layer = typename S::template layer<I>;

  static constexpr std::size_t V = Cfg::vocab_size, C = Cfg::hidden_size,
                               I = Cfg::intermediate_size, H = Cfg::num_heads,
                               D = Cfg::head_dim;

  // Placement name of every layer, for `info` and the Hugging Face export.
  static constexpr std::array<const char*, num_layers> placement_names =
      []<int... L>(std::integer_sequence<int, L...>) {
        return std::array<const char*, num_layers>{layer<L>::name...};
      }(std::make_integer_sequence<int, num_layers>{});
};

template <class T>
inline constexpr bool is_model_v = std::is_base_of_v<model_tag, T>;

}  // namespace mixln
