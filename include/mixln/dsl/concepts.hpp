// mixln/dsl/concepts.hpp — what a norm kind, a branch and a block must have, as C++20
// concepts, and checks that say which member is missing.
//
//   NormKind<K>   name, params (std::array<NormParam, P>), num_stats, statistics, apply,
//                 backward                                       (math/norm_kinds.hpp)
//   Branch<Br>    name, weights(WeightList&), activations(ActivationList&, B, T)
//                 (forward/backward are checked against the backend at Engine entry)
//                                                                (dsl/branch.hpp)
//   Block<B>      config (its LlamaConfig), branches (a type_list of at least one Branch),
//                 name                                           (dsl/llama_block.hpp)
//
// Each check_* struct static_asserts one requirement at a time, so a type that misses
// something stops compilation with a message naming the member; the Placement check lives
// in dsl/placement.hpp and the Backend check in schedule/backend_concept.hpp.
#pragma once

#include <array>
#include <concepts>
#include <cstddef>
#include <type_traits>

#include "../math/norm_kinds.hpp"
#include "../math/row.hpp"
#include "branch.hpp"
#include "../type_list.hpp"

namespace mixln {

namespace detail {
template <class A>
struct is_norm_param_array : std::false_type {};
template <std::size_t P>
struct is_norm_param_array<std::array<NormParam, P>> : std::true_type {};

// Callables the norm-kind check passes where the library passes lambdas.
struct probe_in {
  float operator()(int) const;
};
struct probe_din {
  void operator()(int, float) const;
};
}  // namespace detail

// --- norm kinds ---------------------------------------------------------------------------
template <class K>
concept NormKindNamed = requires {
  { K::name } -> std::convertible_to<const char*>;
};
template <class K>
concept NormKindParams = requires { K::params; } &&
                         detail::is_norm_param_array<std::remove_cv_t<decltype(K::params)>>::value;
template <class K>
concept NormKindStats = requires {
  { K::num_stats } -> std::convertible_to<int>;
};
template <class K>
concept NormKindMath = requires(const SerialRow& row, const float* x, float* st, const float* const* w,
                                float* const* dw, detail::probe_in in, detail::probe_din din) {
  K::statistics(row, in, x, st);
  { K::apply(x, 0.f, 0, w) } -> std::convertible_to<float>;
  K::backward(row, x, x, w, in, din, dw);
};
template <class K>
concept NormKind = NormKindNamed<K> && NormKindParams<K> && NormKindStats<K> && NormKindMath<K>;

template <class K>
struct check_norm_kind {
  static_assert(NormKindNamed<K>, "norm kind: a norm kind must define `static constexpr const char* name`");
  static_assert(NormKindParams<K>,
                "norm kind: a norm kind must define `static constexpr std::array<NormParam, P> params` "
                "(P may be 0)");
  static_assert(NormKindStats<K>, "norm kind: a norm kind must define `static constexpr int num_stats`");
  static_assert(!(NormKindNamed<K> && NormKindParams<K> && NormKindStats<K>) || NormKindMath<K>,
                "norm kind: a norm kind must define the MIXLN_HD functions statistics(row, in, x, st), "
                "apply(st, x, j, w) and backward(row, x, st, w, dout, din, dw) (see math/norm_kinds.hpp)");
  static constexpr bool value = NormKind<K>;
};

// --- branches -----------------------------------------------------------------------------
template <class Br>
concept Branch = requires(WeightList& w, ActivationList& a, std::size_t n) {
  { Br::name } -> std::convertible_to<const char*>;
  Br::weights(w);
  Br::activations(a, n, n);
};

template <class Br>
struct check_branch {
  static_assert(Branch<Br>,
                "block: every branch must define `static constexpr const char* name`, "
                "`static void weights(WeightList&)` and `static void activations(ActivationList&, "
                "std::size_t B, std::size_t T)` (see dsl/branch.hpp)");
  static constexpr bool value = Branch<Br>;
};

// --- blocks -------------------------------------------------------------------------------
template <class B>
concept BlockHasConfig = requires { typename B::config; };
template <class B>
concept BlockHasBranches = requires { typename B::branches; } && is_type_list_v<typename B::branches>;

namespace detail {
template <class L>
struct all_branches;
template <class... Br>
struct all_branches<type_list<Br...>> : std::bool_constant<(Branch<Br> && ...)> {};
}  // namespace detail

template <class B>
concept Block = BlockHasConfig<B> && BlockHasBranches<B> && requires {
  { B::name } -> std::convertible_to<const char*>;
} && (B::branches::size > 0) && detail::all_branches<typename B::branches>::value;

template <class B>
struct check_block {
  static_assert(BlockHasConfig<B>,
                "block: a block must define `using config = ...`, the LlamaConfig it is built for "
                "(is this a block? LlamaBlock<Cfg> is one)");
  static_assert(!BlockHasConfig<B> || BlockHasBranches<B>,
                "block: a block must define `using branches = mixln::type_list<Branch...>`, its "
                "branches in order (e.g. attention, then the MLP)");
  static constexpr bool has_branches = [] {
    if constexpr (BlockHasConfig<B> && BlockHasBranches<B>) return B::branches::size > 0;
    else return true;
  }();
  static_assert(has_branches, "block: a block must have at least one branch");
  static constexpr bool named = [] {
    if constexpr (requires { { B::name } -> std::convertible_to<const char*>; }) return true;
    else return !(BlockHasConfig<B> && BlockHasBranches<B>);
  }();
  static_assert(named, "block: a block must define `static constexpr const char* name`");
  static constexpr bool branches_ok = [] {
    if constexpr (BlockHasConfig<B> && BlockHasBranches<B>) return detail::all_branches<typename B::branches>::value;
    else return true;
  }();
  static_assert(branches_ok,
                "block: every branch must define `static constexpr const char* name`, "
                "`static void weights(WeightList&)` and `static void activations(ActivationList&, "
                "std::size_t B, std::size_t T)` (see dsl/branch.hpp)");
  static constexpr bool value = Block<B>;
};

}  // namespace mixln
