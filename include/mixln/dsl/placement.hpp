// mixln/dsl/placement.hpp — where the norms of a layer go, and of which kind, as a type.
//
// A placement wraps a block B and says, for each of the block's branches (sub-layers), which
// norms surround the branch F. A norm slot names its kind and its weight name; a sub-layer may
// hold any number of each (x: the residual stream, N: a norm):
//
//   PreNorm<K, "name">     h = c·N(x)            the branch input is normalised (Pre-LN, LNS)
//   BranchNorm<K, "name">  g = N(F(h))           the branch output is normalised (Sandwich, OLMo 2)
//   PostNorm<K, "name">    x' = N(a·x + g)       the sum is normalised (Post-LN, DeepNorm)
//   SkipFromLayerInput     x' = N(a·x + g + x₀)  the layer's input joins this sum (B2T)
//
// Several norms in one position apply in the order given. a = residual_scale(L) and
// c = pre_scale(i, L) are runtime scalars of the placement; which norms exist, and their
// kinds, are compile-time, so each boundary between sub-layers compiles to its own fused code
// (math/boundary.hpp). Every library placement takes the norm kind as an optional second
// argument: PreLN<B, DyT<>>, PostLN<B, LayerNorm>.
//
// A user-defined placement derives from mixln::placement<B> and defines `name` and its
// sub-layers — `attn` and `mlp` for a two-branch block, or `sublayers`, a type_list of one
// SubLayer per branch (see examples/b2t.hpp and docs/dsl.md).
#pragma once

#include <cmath>
#include <string_view>
#include <type_traits>

#include "../math/norm_kinds.hpp"
#include "../math/norm_list.hpp"
#include "concepts.hpp"
#include "fixed_string.hpp"
#include "llama_block.hpp"
#include "../type_list.hpp"

namespace mixln {

// --- norm slots and sub-layers ------------------------------------------------------------
enum class NormRole { pre, branch, post };

struct norm_slot_tag {};

template <class Kind, fixed_string Name, NormRole Role>
struct norm_slot : norm_slot_tag {
  static_assert(check_norm_kind<Kind>::value, "a norm slot's first argument must be a norm kind");
  using kind = Kind;
  static constexpr NormRole role = Role;
  static constexpr const char* name = Name.value;  // the weights are `name.weight`, ...
};

template <class Kind, fixed_string Name>
struct PreNorm : norm_slot<Kind, Name, NormRole::pre> {};
template <class Kind, fixed_string Name>
struct BranchNorm : norm_slot<Kind, Name, NormRole::branch> {};
template <class Kind, fixed_string Name>
struct PostNorm : norm_slot<Kind, Name, NormRole::post> {};
struct SkipFromLayerInput {};

template <class T>
inline constexpr bool is_norm_slot_v = std::is_base_of_v<norm_slot_tag, T>;

namespace detail {
template <NormRole R, class Item>
constexpr auto pick_role() {
  if constexpr (is_norm_slot_v<Item>) {
    if constexpr (Item::role == R) return type_list<Item>{};
    else return type_list<>{};
  } else {
    return type_list<>{};
  }
}
template <class L>
struct kinds_of;
template <class... Slots>
struct kinds_of<type_list<Slots...>> {
  using type = norm_list<typename Slots::kind...>;
};
}  // namespace detail

struct sublayer_tag {};

// The norms around one branch, in any order of arguments (the order within a role is the
// order of application).
template <class... Items>
struct SubLayer : sublayer_tag {
  static_assert(((is_norm_slot_v<Items> || std::is_same_v<Items, SkipFromLayerInput>) && ...),
                "SubLayer: each argument must be PreNorm<Kind, \"name\">, BranchNorm<Kind, \"name\">, "
                "PostNorm<Kind, \"name\"> or SkipFromLayerInput");
  static_assert((int(std::is_same_v<Items, SkipFromLayerInput>) + ... + 0) <= 1,
                "SubLayer: SkipFromLayerInput given twice");
  using pre = decltype((type_list<>{} + ... + detail::pick_role<NormRole::pre, Items>()));
  using branch = decltype((type_list<>{} + ... + detail::pick_role<NormRole::branch, Items>()));
  using post = decltype((type_list<>{} + ... + detail::pick_role<NormRole::post, Items>()));
  // Their kinds, as the boundary code sees them.
  using pre_kinds = typename detail::kinds_of<pre>::type;
  using branch_kinds = typename detail::kinds_of<branch>::type;
  using post_kinds = typename detail::kinds_of<post>::type;
  static constexpr bool skip_from_layer_input = (std::is_same_v<Items, SkipFromLayerInput> || ...);
  // Every norm slot, in the order its parameters are laid out: pre, branch, post.
  using slots = decltype(pre{} + branch{} + post{});
};

template <class T>
inline constexpr bool is_sublayer_v = std::is_base_of_v<sublayer_tag, T>;

// --- placements ---------------------------------------------------------------------------
struct placement_tag {};

// Base of every placement: defaults for the scalars; derived types override what they need.
template <class B>
struct placement : placement_tag {
  static_assert(check_block<B>::value,
                "placement<B>: B must be a block type such as LlamaBlock<Cfg> (see dsl/concepts.hpp)");
  using block = B;
  using config = typename B::config;
  // a in N(a·x + F(x)); L is the model's total number of layers.
  static double residual_scale(int /*L*/) { return 1.0; }
  // c in x + F(c·N(x)); layer is the 0-based layer index.
  static double pre_scale(int /*layer*/, int /*L*/) { return 1.0; }
  // Factor on the N(0, σ) init of a weight (its name after `model.layers.{i}.`).
  static double init_gain(std::string_view /*weight*/, int /*L*/) { return 1.0; }
};

// x ← x + F(N(x)); norm names as in Hugging Face Llama. The MLP's norm may be of another kind
// (or the same kind with another init) than the attention's: PreLN<B, DyT<std::ratio<4, 5>>,
// DyT<std::ratio<1, 5>>> is DyT's LLaMA recipe.
template <class B, class N = RMSNorm, class NMlp = N>
struct PreLN : placement<B> {
  static constexpr const char* name = "PreLN";
  using attn = SubLayer<PreNorm<N, "input_layernorm">>;
  using mlp = SubLayer<PreNorm<NMlp, "post_attention_layernorm">>;
};

// x ← N(x + F(x))
template <class B, class N = RMSNorm>
struct PostLN : placement<B> {
  static constexpr const char* name = "PostLN";
  using attn = SubLayer<PostNorm<N, "post_attention_layernorm">>;
  using mlp = SubLayer<PostNorm<N, "post_feedforward_layernorm">>;
};

// x ← N(a·x + F(x)), a = (2L)^¼; v, o, gate, up, down initialised ×β, β = (8L)^−¼: Post-LN's
// norms with DeepNet's scales.
template <class B, class N = RMSNorm>
struct DeepNorm : PostLN<B, N> {
  static constexpr const char* name = "DeepNorm";
  static double residual_scale(int L) { return std::pow(2.0 * L, 0.25); }
  static double init_gain(std::string_view weight, int L) {
    const bool scaled = weight.find("v_proj") != weight.npos || weight.find("o_proj") != weight.npos ||
                        weight.find("gate_proj") != weight.npos || weight.find("up_proj") != weight.npos ||
                        weight.find("down_proj") != weight.npos;
    return scaled ? std::pow(8.0 * L, -0.25) : 1.0;
  }
};

// x ← x + N₂(F(N₁(x))); norm names as in Gemma 2.
template <class B, class N = RMSNorm>
struct SandwichLN : placement<B> {
  static constexpr const char* name = "SandwichLN";
  using attn = SubLayer<PreNorm<N, "input_layernorm">, BranchNorm<N, "post_attention_layernorm">>;
  using mlp = SubLayer<PreNorm<N, "pre_feedforward_layernorm">, BranchNorm<N, "post_feedforward_layernorm">>;
};

// LayerNorm Scaling: x ← x + F(N(x)/√ℓ), ℓ = i + 1: Pre-LN's norms, scaled by depth.
template <class B, class N = RMSNorm>
struct LNS : PreLN<B, N> {
  static constexpr const char* name = "LNS";
  static double pre_scale(int layer, int /*L*/) { return 1.0 / std::sqrt(double(layer + 1)); }
};

// Peri-LN (Kim et al., 2025): x ← x + N₂(F(N₁(x))), the same norms as Sandwich-LN under its
// own name.
template <class B, class N = RMSNorm>
struct PeriLN : SandwichLN<B, N> {
  static constexpr const char* name = "PeriLN";
};

// OLMo 2: x ← x + N(F(x)), the norm on the branch output only (pair it with a full-width
// QK-norm block, LlamaBlock<Cfg, QKNorm<FullWidth>>, as OLMo 2 does).
template <class B, class N = RMSNorm>
struct OLMo2 : placement<B> {
  static constexpr const char* name = "OLMo2";
  using attn = SubLayer<BranchNorm<N, "post_attention_layernorm">>;
  using mlp = SubLayer<BranchNorm<N, "post_feedforward_layernorm">>;
};

// HybridNorm (Zhuo et al., 2025): h = x + Attn(x), then x ← N(h) + MLP(N(h)): the attention
// sum is normalised (the attention itself normalises q, k, v: pair it with
// LlamaBlock<Cfg, QKVNorm<FullWidth>>), the MLP adds to the normalised stream.
template <class B, class N = RMSNorm>
struct HybridNorm : placement<B> {
  static constexpr const char* name = "HybridNorm";
  using attn = SubLayer<PostNorm<N, "post_attention_layernorm">>;
  using mlp = SubLayer<>;
};

// --- the placement check --------------------------------------------------------------------
namespace detail {
template <class P>
concept has_attn_mlp = requires {
  typename P::attn;
  typename P::mlp;
};
template <class P>
concept has_sublayer_list = requires { typename P::sublayers; };

template <class P>
struct sublayers_of {
  using type = type_list<>;
};
template <class P>
  requires has_sublayer_list<P>
struct sublayers_of<P> {
  using type = typename P::sublayers;
};
template <class P>
  requires(!has_sublayer_list<P> && has_attn_mlp<P>)
struct sublayers_of<P> {
  using type = type_list<typename P::attn, typename P::mlp>;
};

template <class L>
struct all_sublayers : std::false_type {};
template <class... S>
struct all_sublayers<type_list<S...>> : std::bool_constant<(is_sublayer_v<S> && ...)> {};

template <class L>
struct sublayer_list_facts;
template <class... S>
struct sublayer_list_facts<type_list<S...>> {
  using all_slots = decltype((type_list<>{} + ... + typename S::slots{}));
  static constexpr int skips = (int(S::skip_from_layer_input) + ... + 0);
  static constexpr bool first_skips = [] {
    if constexpr (sizeof...(S) == 0) return false;
    else return type_list<S...>::template at<0>::skip_from_layer_input;
  }();
};

template <class L>
struct slot_names_unique;
template <class... Slots>
struct slot_names_unique<type_list<Slots...>> {
  static constexpr bool value = [] {
    const char* names[] = {Slots::name..., nullptr};
    for (std::size_t i = 0; i < sizeof...(Slots); ++i)
      for (std::size_t j = i + 1; j < sizeof...(Slots); ++j) {
        const char *a = names[i], *b = names[j];
        while (*a && *a == *b) ++a, ++b;
        if (*a == *b) return false;
      }
    return true;
  }();
};
}  // namespace detail

// The sub-layers of placement P, one per branch of its block: P::sublayers, or P::attn, P::mlp.
template <class P>
using placement_sublayers = typename detail::sublayers_of<P>::type;

template <class P>
concept Placement = std::is_base_of_v<placement_tag, P> && requires {
  { P::name } -> std::convertible_to<const char*>;
  typename P::block;
} && (detail::has_sublayer_list<P> || detail::has_attn_mlp<P>) &&
                    detail::all_sublayers<placement_sublayers<P>>::value &&
                    placement_sublayers<P>::size == P::block::branches::size;

// Checks a placement once, with messages that say what is wrong; used by Stack and Model.
template <class P>
struct check_placement {
  static constexpr bool tagged = std::is_base_of_v<placement_tag, P>;
  static_assert(tagged,
                "Stack: each layer type must be a placement (PreLN<B>, PostLN<B>, DeepNorm<B>, "
                "SandwichLN<B>, LNS<B>, PeriLN<B>, OLMo2<B>, HybridNorm<B>, or a type deriving from "
                "mixln::placement<B>)");
  static constexpr bool named = [] {
    if constexpr (requires { { P::name } -> std::convertible_to<const char*>; }) return true;
    else return !tagged;
  }();
  static_assert(named, "placement: a placement must define `static constexpr const char* name`");
  static constexpr bool has_sublayers = !tagged || detail::has_sublayer_list<P> || detail::has_attn_mlp<P>;
  static_assert(has_sublayers,
                "placement: a placement must define its sub-layers: `using attn = SubLayer<...>;` and "
                "`using mlp = SubLayer<...>;` (or `using sublayers = type_list<SubLayer<...>...>`, one "
                "per branch of its block)");
  using list = placement_sublayers<P>;
  static constexpr bool sublayers_ok = !tagged || !has_sublayers || detail::all_sublayers<list>::value;
  static_assert(sublayers_ok, "placement: attn, mlp (each entry of sublayers) must be a SubLayer<...>");
  static constexpr bool count_ok = [] {
    if constexpr (tagged && has_sublayers && sublayers_ok) return list::size == P::block::branches::size;
    else return true;
  }();
  static_assert(count_ok,
                "placement: the placement gives a different number of sub-layers than its block has "
                "branches");
  static constexpr bool names_ok = [] {
    if constexpr (tagged && has_sublayers && sublayers_ok)
      return detail::slot_names_unique<typename detail::sublayer_list_facts<list>::all_slots>::value;
    else return true;
  }();
  static_assert(names_ok, "placement: two norms of one placement share a weight name");
  static constexpr bool skip_ok = [] {
    if constexpr (tagged && has_sublayers && sublayers_ok) return !detail::sublayer_list_facts<list>::first_skips;
    else return true;
  }();
  static_assert(skip_ok,
                "placement: SkipFromLayerInput is only meaningful after the first sub-layer (the first "
                "sub-layer's input is the layer's input)");
  static constexpr bool one_skip = [] {
    if constexpr (tagged && has_sublayers && sublayers_ok) return detail::sublayer_list_facts<list>::skips <= 1;
    else return true;
  }();
  static_assert(one_skip, "placement: at most one sub-layer of a layer may take SkipFromLayerInput");
  static constexpr bool value = Placement<P> && names_ok && skip_ok && one_skip;
};

template <class P>
inline constexpr bool is_placement_v = Placement<P>;

}  // namespace mixln
