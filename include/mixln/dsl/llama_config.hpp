// mixln/dsl/llama_config.hpp — the model's dimensions as a type.
//
//   using Cfg = LlamaConfig<vocab<32000>, hidden<512>, intermediate<1368>, heads<8>>;
//
// The named arguments may come in any order, each exactly once; vocab<V> may be left out where
// no end of the model has tokens (a Vision Transformer: vocab_size is then 0). Every dimension is a
// Boost.Hana compile-time integer, so `Cfg::hidden_size` is usable in constant expressions.
#pragma once

#include <boost/hana/integral_constant.hpp>
#include <cstddef>
#include <type_traits>

namespace mixln {

namespace hana = boost::hana;

template <std::size_t V> struct vocab : hana::size_t<V> {};
template <std::size_t H> struct hidden : hana::size_t<H> {};
template <std::size_t I> struct intermediate : hana::size_t<I> {};
template <std::size_t N> struct heads : hana::size_t<N> {};

namespace detail {
template <template <std::size_t> class Tag, class P> struct tag_value {
  static constexpr std::size_t count = 0, value = 0;
};
template <template <std::size_t> class Tag, std::size_t N> struct tag_value<Tag, Tag<N>> {
  static constexpr std::size_t count = 1, value = N;
};
template <template <std::size_t> class Tag, class... Ps>
inline constexpr std::size_t tag_count = (tag_value<Tag, Ps>::count + ... + 0);
template <template <std::size_t> class Tag, class... Ps>
inline constexpr std::size_t tag_sum = (tag_value<Tag, Ps>::value + ... + 0);
}  // namespace detail

struct llama_config_tag {};

template <class... Params>
struct LlamaConfig : llama_config_tag {
  static_assert(detail::tag_count<vocab, Params...> + detail::tag_count<hidden, Params...> +
                        detail::tag_count<intermediate, Params...> +
                        detail::tag_count<heads, Params...> ==
                    sizeof...(Params),
                "LlamaConfig: every argument must be one of vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>");
  static_assert(detail::tag_count<vocab, Params...> <= 1, "LlamaConfig: give vocab<V> at most once");
  static_assert(detail::tag_count<hidden, Params...> == 1,
                "LlamaConfig: give hidden<H> exactly once");
  static_assert(detail::tag_count<intermediate, Params...> == 1,
                "LlamaConfig: give intermediate<I> exactly once");
  static_assert(detail::tag_count<heads, Params...> == 1,
                "LlamaConfig: give heads<N> exactly once");

  static constexpr std::size_t vocab_size = detail::tag_sum<vocab, Params...>;
  static constexpr std::size_t hidden_size = detail::tag_sum<hidden, Params...>;
  static constexpr std::size_t intermediate_size = detail::tag_sum<intermediate, Params...>;
  static constexpr std::size_t num_heads = detail::tag_sum<heads, Params...>;

  static_assert(detail::tag_count<vocab, Params...> == 0 || vocab_size > 0, "LlamaConfig: vocab<V> must be positive");
  static_assert(hidden_size > 0, "LlamaConfig: hidden<H> must be positive");
  static_assert(intermediate_size > 0, "LlamaConfig: intermediate<I> must be positive");
  static_assert(num_heads > 0, "LlamaConfig: heads<N> must be positive");
  static_assert(num_heads == 0 || hidden_size % num_heads == 0,
                "LlamaConfig: heads<N> must divide hidden<H>");
  static constexpr std::size_t head_dim = num_heads ? hidden_size / num_heads : 0;
  static_assert(head_dim % 2 == 0,
                "LlamaConfig: the head dimension hidden/heads must be even for RoPE "
                "(rotate_half splits each head in two)");
};

template <class T>
inline constexpr bool is_llama_config_v = std::is_base_of_v<llama_config_tag, T>;

}  // namespace mixln
