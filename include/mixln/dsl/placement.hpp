// mixln/dsl/placement.hpp — where the norms of a layer go, as a type.
//
// A placement wraps a block B and says, for each of its two sub-layers (attention, MLP),
// which RMSNorms surround the branch F. Every placement the paper compares is one point in
// this space (x: residual stream, N: RMSNorm):
//
//   pre    : h = c·N(x)            the branch input is normalised          (Pre-LN, LNS)
//   branch : g = N(F(h))           the branch output is normalised         (Sandwich-LN)
//   post   : x' = N(a·x + g)       the sum is normalised                   (Post-LN, DeepNorm)
//   skip   : x' = N(a·x + g + x₀)  the layer's input joins the MLP's sum   (B2T, user-defined)
//
// a = residual_scale(L) and c = pre_scale(i, L) are runtime scalars of the placement; which
// norms exist is compile-time, so each boundary between sub-layers compiles to its own fused
// kernel (schedule/boundary.hpp). A user-defined placement derives from mixln::placement<B>
// and fills in `name`, `attn` and `mlp` (see examples/b2t.cpp).
#pragma once

#include <cmath>
#include <string_view>
#include <type_traits>

#include "llama_block.hpp"

namespace mixln {

// The norms around one sub-layer; names are those of the weights after `model.layers.{i}.`,
// nullptr where there is no such norm.
struct SubLayerNorms {
  const char* pre = nullptr;     // N before F:          x + F(N(x))
  const char* branch = nullptr;  // N on F's output:     x + N(F(·))
  const char* post = nullptr;    // N after the add:     N(x + F(·))
  bool skip_from_layer_input = false;  // add the layer's input to this sum (MLP only)
};

struct placement_tag {};

// Base of every placement: defaults for the scalars; derived types override what they need.
template <class B>
struct placement : placement_tag {
  static_assert(is_block_v<B>,
                "placement<B>: B must be a block type such as LlamaBlock<Cfg>");
  using block = B;
  using config = typename B::config;
  // a in N(a·x + F(x)); L is the model's total number of layers.
  static double residual_scale(int /*L*/) { return 1.0; }
  // c in x + F(c·N(x)); layer is the 0-based layer index.
  static double pre_scale(int /*layer*/, int /*L*/) { return 1.0; }
  // Factor on the N(0, σ) init of a linear weight (its name after `model.layers.{i}.`).
  static double init_gain(std::string_view /*linear*/, int /*L*/) { return 1.0; }
};

// x ← x + F(N(x)); norm names as in Hugging Face Llama.
template <class B>
struct PreLN : placement<B> {
  static constexpr const char* name = "PreLN";
  static constexpr SubLayerNorms attn{.pre = "input_layernorm"};
  static constexpr SubLayerNorms mlp{.pre = "post_attention_layernorm"};
};

// x ← N(x + F(x))
template <class B>
struct PostLN : placement<B> {
  static constexpr const char* name = "PostLN";
  static constexpr SubLayerNorms attn{.post = "post_attention_layernorm"};
  static constexpr SubLayerNorms mlp{.post = "post_feedforward_layernorm"};
};

// x ← N(a·x + F(x)), a = (2L)^¼; v, o, gate, up, down initialised ×β, β = (8L)^−¼.
template <class B>
struct DeepNorm : placement<B> {
  static constexpr const char* name = "DeepNorm";
  static constexpr SubLayerNorms attn{.post = "post_attention_layernorm"};
  static constexpr SubLayerNorms mlp{.post = "post_feedforward_layernorm"};
  static double residual_scale(int L) { return std::pow(2.0 * L, 0.25); }
  static double init_gain(std::string_view linear, int L) {
    const bool scaled = linear.find("v_proj") != linear.npos ||
                        linear.find("o_proj") != linear.npos ||
                        linear.find("gate_proj") != linear.npos ||
                        linear.find("up_proj") != linear.npos ||
                        linear.find("down_proj") != linear.npos;
    return scaled ? std::pow(8.0 * L, -0.25) : 1.0;
  }
};

// x ← x + N₂(F(N₁(x))); norm names as in Gemma 2.
template <class B>
struct SandwichLN : placement<B> {
  static constexpr const char* name = "SandwichLN";
  static constexpr SubLayerNorms attn{.pre = "input_layernorm",
                                      .branch = "post_attention_layernorm"};
  static constexpr SubLayerNorms mlp{.pre = "pre_feedforward_layernorm",
                                     .branch = "post_feedforward_layernorm"};
};

// LayerNorm Scaling: x ← x + F(N(x)/√ℓ), ℓ = i + 1.
template <class B>
struct LNS : placement<B> {
  static constexpr const char* name = "LNS";
  static constexpr SubLayerNorms attn{.pre = "input_layernorm"};
  static constexpr SubLayerNorms mlp{.pre = "post_attention_layernorm"};
  static double pre_scale(int layer, int /*L*/) { return 1.0 / std::sqrt(double(layer + 1)); }
};

namespace detail {
template <class P, class = void>
struct has_placement_members : std::false_type {};
template <class P>
struct has_placement_members<
    P, std::void_t<decltype(P::name), decltype(P::attn), decltype(P::mlp), typename P::block>>
    : std::bool_constant<std::is_same_v<std::remove_cv_t<decltype(P::attn)>, SubLayerNorms> &&
                         std::is_same_v<std::remove_cv_t<decltype(P::mlp)>, SubLayerNorms>> {};

constexpr bool same_name(const char* a, const char* b) {
  if (!a || !b) return false;
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}
// The norms of a placement, in a fixed order: attn.pre, attn.branch, attn.post, mlp.pre, ...
template <class P>
constexpr std::array<const char*, 6> norm_slots() {
  return {P::attn.pre, P::attn.branch, P::attn.post, P::mlp.pre, P::mlp.branch, P::mlp.post};
}
template <class P>
constexpr bool norm_names_unique() {
  constexpr auto n = norm_slots<P>();
  for (std::size_t i = 0; i < n.size(); ++i)
    for (std::size_t j = i + 1; j < n.size(); ++j)
      if (same_name(n[i], n[j])) return false;
  return true;
}
}  // namespace detail

template <class P>
inline constexpr bool is_placement_v =
    std::is_base_of_v<placement_tag, P> && detail::has_placement_members<P>::value;

// Checks a placement once, with messages that say what is wrong; used by Stack and Model.
template <class P>
struct check_placement {
  static_assert(std::is_base_of_v<placement_tag, P>,
                "Stack: each layer type must be a placement (PreLN<B>, PostLN<B>, "
                "DeepNorm<B>, SandwichLN<B>, LNS<B>, or a type deriving from "
                "mixln::placement<B>)");
  static_assert(!std::is_base_of_v<placement_tag, P> || detail::has_placement_members<P>::value,
                "placement: a placement must define `static constexpr const char* name` and "
                "`static constexpr SubLayerNorms attn, mlp`");
  static constexpr bool members_ok = [] {
    if constexpr (is_placement_v<P>) return true;
    else return false;
  }();
  static constexpr bool names_ok = [] {
    if constexpr (is_placement_v<P>) return detail::norm_names_unique<P>();
    else return true;
  }();
  static_assert(names_ok, "placement: two norms of one placement share a weight name");
  static constexpr bool skip_ok = [] {
    if constexpr (is_placement_v<P>) return !P::attn.skip_from_layer_input;
    else return true;
  }();
  static_assert(skip_ok,
                "placement: skip_from_layer_input is only meaningful on the MLP sub-layer "
                "(the attention sub-layer's input is the layer's input)");
  static constexpr bool value = members_ok && names_ok && skip_ok;
};

}  // namespace mixln
