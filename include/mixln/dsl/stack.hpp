// mixln/dsl/stack.hpp — the layer sequence of a model as a type.
//
//   Stack<PostLN<B>, 3, PreLN<B>, 9>        3 Post-LN layers, then 9 Pre-LN layers
//   MixLN<B, 12, std::ratio<1, 4>>          the same type: ⌊αL⌋ Post-LN, then Pre-LN
//
// Stack takes up to 16 (placement, count) pairs; a zero count contributes no layer. A Stack
// may itself stand in a pair, repeated `count` times: Stack<Stack<PostLN<B>, 1, PreLN<B>, 1>,
// 12> alternates 24 layers. The flattened layer list is a Boost.Hana tuple of types, walked
// at compile time by the schedule.
#pragma once

#include <boost/hana/at.hpp>
#include <boost/hana/flatten.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/replicate.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <ratio>
#include <type_traits>

#include "placement.hpp"

namespace mixln {

struct stack_tag;

namespace detail {
// Fills the unused (placement, count) slots of Stack.
struct unused {};

template <class P, int N>
struct pair {
  using placement = P;
  static constexpr int count = N;
};

// Validates the I-th (placement, count) pair; the instantiation context of a failure names I.
template <int I, class P, int N>
struct check_pair {
  static_assert(N >= 0, "Stack: layer counts must be >= 0");
  static_assert(!std::is_same_v<P, unused> || N == 0,
                "Stack: a layer count was given without a placement before it");
  static constexpr bool value = [] {
    if constexpr (std::is_same_v<P, unused>) return N == 0;
    else if constexpr (std::is_base_of_v<stack_tag, P>) return N >= 0;
    else return check_placement<P>::value && N >= 0;
  }();
};

template <class Pair>
constexpr auto replicate_pair() {
  using P = typename Pair::placement;
  if constexpr (std::is_same_v<P, unused> || Pair::count <= 0)
    return hana::tuple_t<>;
  else if constexpr (std::is_base_of_v<stack_tag, P>)  // a nested Stack: repeat its layers
    return hana::flatten(hana::replicate<hana::tuple_tag>(P::layers, hana::size_c<std::size_t(Pair::count)>));
  else
    return hana::replicate<hana::tuple_tag>(hana::type_c<P>, hana::size_c<std::size_t(Pair::count)>);
}

template <class... Pairs>
struct stack_layers {
  static constexpr auto value = hana::flatten(hana::make_tuple(replicate_pair<Pairs>()...));
};
}  // namespace detail

struct stack_tag {};

template <class P1, int n1,
          class P2 = detail::unused, int n2 = 0,
          class P3 = detail::unused, int n3 = 0,
          class P4 = detail::unused, int n4 = 0,
          class P5 = detail::unused, int n5 = 0,
          class P6 = detail::unused, int n6 = 0,
          class P7 = detail::unused, int n7 = 0,
          class P8 = detail::unused, int n8 = 0,
          class P9 = detail::unused, int n9 = 0,
          class P10 = detail::unused, int n10 = 0,
          class P11 = detail::unused, int n11 = 0,
          class P12 = detail::unused, int n12 = 0,
          class P13 = detail::unused, int n13 = 0,
          class P14 = detail::unused, int n14 = 0,
          class P15 = detail::unused, int n15 = 0,
          class P16 = detail::unused, int n16 = 0>
struct Stack : stack_tag {
  static constexpr bool pairs_valid =
      detail::check_pair<1, P1, n1>::value &&
      detail::check_pair<2, P2, n2>::value &&
      detail::check_pair<3, P3, n3>::value &&
      detail::check_pair<4, P4, n4>::value &&
      detail::check_pair<5, P5, n5>::value &&
      detail::check_pair<6, P6, n6>::value &&
      detail::check_pair<7, P7, n7>::value &&
      detail::check_pair<8, P8, n8>::value &&
      detail::check_pair<9, P9, n9>::value &&
      detail::check_pair<10, P10, n10>::value &&
      detail::check_pair<11, P11, n11>::value &&
      detail::check_pair<12, P12, n12>::value &&
      detail::check_pair<13, P13, n13>::value &&
      detail::check_pair<14, P14, n14>::value &&
      detail::check_pair<15, P15, n15>::value &&
      detail::check_pair<16, P16, n16>::value;
  // [P, P, P, Q, ...]: one hana::type per layer, in order.
  static constexpr auto layers = detail::stack_layers<detail::pair<P1, n1>, detail::pair<P2, n2>, detail::pair<P3, n3>, detail::pair<P4, n4>, detail::pair<P5, n5>, detail::pair<P6, n6>, detail::pair<P7, n7>, detail::pair<P8, n8>, detail::pair<P9, n9>, detail::pair<P10, n10>, detail::pair<P11, n11>, detail::pair<P12, n12>, detail::pair<P13, n13>, detail::pair<P14, n14>, detail::pair<P15, n15>, detail::pair<P16, n16>>::value;
  static constexpr int num_layers = int(decltype(hana::length(layers))::value);
  static_assert(!pairs_valid || num_layers > 0,
                "Stack: the stack has no layers (every count is 0)");

  // The placement of layer I (0-based).
  template <int I>
  using layer = typename decltype(+hana::at_c<std::size_t(I)>(layers))::type;
};

template <class S>
inline constexpr bool is_stack_v = std::is_base_of_v<stack_tag, S>;

namespace detail {
template <int L, class Alpha>
struct mixln_split {
  static_assert(L > 0, "MixLN: the number of layers L must be positive");
  static_assert(Alpha::num >= 0 && Alpha::num <= Alpha::den,
                "MixLN: alpha (a std::ratio) must lie in [0, 1]");
  // ⌊αL⌋ Post-LN layers.
  static constexpr int post = int((long long)L * Alpha::num / Alpha::den);
};
}  // namespace detail

// Mix-LN (the paper): Post-LN in the first ⌊αL⌋ layers, Pre-LN in the rest. An alias, so
// MixLN<B, 12, std::ratio<1, 4>> *is* Stack<PostLN<B>, 3, PreLN<B>, 9>. The optional norm kind
// N goes to both placements: MixLN<B, 8, std::ratio<1, 4>, LayerNorm>.
template <class B, int L, class Alpha = std::ratio<1, 4>, class N = RMSNorm>
using MixLN = Stack<PostLN<B, N>, detail::mixln_split<L, Alpha>::post, PreLN<B, N>,
                    L - detail::mixln_split<L, Alpha>::post>;

}  // namespace mixln
