// mixln/math/norm_list.hpp — a compile-time list of norm kinds and where each one's
// parameters and statistics sit when the list is laid out in order.
//
//   using L = norm_list<RMSNorm, DyT<>, LayerNorm>;
//   L::size == 3, L::num_params == 1 + 3 + 2, L::num_stats == 1 + 0 + 2
//   L::param_offset<2> == 4 (LayerNorm's weight is the 5th parameter), L::stat_offset<2> == 1
//
// Plain C++ (no Boost.Hana): it is a template argument of kernels.
#pragma once

#include <array>
#include <cstddef>
#include <utility>

#include "../type_list.hpp"

namespace mixln {

template <class... Kinds>
struct norm_list;

namespace detail {
template <class A, class B>
struct concat_lists;
template <class... A, class... B>
struct concat_lists<norm_list<A...>, norm_list<B...>> {
  using type = norm_list<A..., B...>;
};
}  // namespace detail

template <class... Kinds>
struct norm_list {
  static constexpr int size = int(sizeof...(Kinds));
  static constexpr int num_params = (int(Kinds::params.size()) + ... + 0);
  static constexpr int num_stats = (Kinds::num_stats + ... + 0);

  template <int I>
  using at = typename detail::type_at<I, Kinds...>::type;

  // Index of the first parameter (statistic) of kind I when the list is laid out in order.
  template <int I>
  static constexpr int param_offset = [] {
    int off = 0, i = 0;
    ((off += i++ < I ? int(Kinds::params.size()) : 0), ...);
    return off;
  }();
  template <int I>
  static constexpr int stat_offset = [] {
    int off = 0, i = 0;
    ((off += i++ < I ? Kinds::num_stats : 0), ...);
    return off;
  }();

  // per_channel[p]: whether parameter p (in order) has one value per channel, else one scalar.
  static constexpr std::array<bool, num_params + 1> per_channel = [] {
    std::array<bool, num_params + 1> out{};
    int i = 0;
    (
        [&] {
          for (const auto& q : Kinds::params) out[i++] = q.per_channel;
        }(),
        ...);
    return out;
  }();

  // Calls f.template operator()<I>() for I = 0 .. size-1.
  template <class F>
  static constexpr void for_each(F&& f) {
    [&]<int... I>(std::integer_sequence<int, I...>) {
      (f.template operator()<I>(), ...);
    }(std::make_integer_sequence<int, size>{});
  }
};

template <class A, class B>
using concat_norm_lists = typename detail::concat_lists<A, B>::type;

}  // namespace mixln
