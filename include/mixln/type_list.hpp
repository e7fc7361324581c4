// mixln/type_list.hpp — a plain list of types: a block's branches, a placement's sub-layers, a
// sub-layer's norm slots, a boundary's norm kinds (math/norm_list.hpp). The layer sequence of a
// Stack is a Boost.Hana tuple; these short lists also reach kernel templates, so they stay
// plain C++.
#pragma once

#include <type_traits>

namespace mixln {

template <class... Ts>
struct type_list;

namespace detail {
template <int I, class... Ts>
struct type_at;
template <class T, class... Rest>
struct type_at<0, T, Rest...> {
  using type = T;
};
template <int I, class T, class... Rest>
struct type_at<I, T, Rest...> : type_at<I - 1, Rest...> {};
}  // namespace detail

template <class... Ts>
struct type_list {
  static constexpr int size = int(sizeof...(Ts));
  template <int I>
  using at = typename detail::type_at<I, Ts...>::type;
};

// type_list<A...> + type_list<B...> = type_list<A..., B...> (for folds over packs).
template <class... A, class... B>
constexpr type_list<A..., B...> operator+(type_list<A...>, type_list<B...>) {
  return {};
}

template <class T>
struct is_type_list : std::false_type {};
template <class... Ts>
struct is_type_list<type_list<Ts...>> : std::true_type {};
template <class T>
inline constexpr bool is_type_list_v = is_type_list<T>::value;

}  // namespace mixln
