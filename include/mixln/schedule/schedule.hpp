// mixln/schedule/schedule.hpp — the schedule a Model type describes, at compile time.
//
// Layer l's block has branches; each branch is a sub-layer, numbered across the model: layer l
// owns sub-layers first_sublayer[l] .. first_sublayer[l+1]−1 (for LLaMA blocks, 2l is the
// attention and 2l+1 the MLP). Boundary k sits before sub-layer k: boundary 0 takes the
// embedding, the last boundary (k = num_sublayers) ends with the model's final norm. Each
// boundary's fused op is a BoundarySpec (math/boundary.hpp) derived from the sub-layer that
// ends there (its branch norms, post norms, skip) and the one that starts there (its pre
// norms); its norms are named slots, "model.layers.3.post_attention_layernorm", resolved
// to parameter offsets by name when the engine is built.
#pragma once

#include <array>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../dsl/model.hpp"
#include "../math/boundary.hpp"

namespace mixln {

// One norm of a boundary, as the parameter layout knows it.
struct NormSlotRef {
  std::string name;                 // "model.layers.3.post_attention_layernorm", "model.norm"
  const char* kind;                 // "RMSNorm"
  std::vector<std::string> params;  // "…layernorm.weight", in the kind's order
};

template <class K>
NormSlotRef norm_slot_ref(std::string name) {
  NormSlotRef r{std::move(name), K::name, {}};
  for (const auto& p : K::params) r.params.push_back(r.name + "." + p.suffix);
  return r;
}

template <class Net>
struct Schedule {
  static constexpr int L = Net::num_layers;
  template <int l>
  using placement = typename Net::template layer<l>;
  template <int l>
  using block = typename placement<l>::block;
  template <int l>
  using sublayers = placement_sublayers<placement<l>>;

  // first_sublayer[l]: the first sub-layer of layer l; first_sublayer[L] = num_sublayers.
  static constexpr std::array<int, L + 1> first_sublayer = []<int... l>(std::integer_sequence<int, l...>) {
    std::array<int, L + 1> f{};
    const int counts[] = {block<l>::branches::size...};
    for (int i = 0; i < L; ++i) f[i + 1] = f[i] + counts[i];
    return f;
  }(std::make_integer_sequence<int, L>{});
  static constexpr int num_sublayers = first_sublayer[L];
  static constexpr int num_boundaries = num_sublayers + 1;

  // The layer of sub-layer k (k < num_sublayers).
  static constexpr int layer_of(int k) {
    int l = 0;
    while (l + 1 < L && first_sublayer[l + 1] <= k) ++l;
    return l;
  }
  template <int k>
  static constexpr int layer = layer_of(k);
  template <int k>
  static constexpr int branch_index = k - first_sublayer[layer_of(k)];
  template <int k>
  using branch = typename block<layer<k>>::branches::template at<branch_index<k>>;
  template <int k>
  using sublayer = typename sublayers<layer<k>>::template at<branch_index<k>>;

  template <int l>
  static constexpr bool layer_has_skip = []<int... b>(std::integer_sequence<int, b...>) {
    return (sublayers<l>::template at<b>::skip_from_layer_input || ... || false);
  }(std::make_integer_sequence<int, sublayers<l>::size>{});
  static constexpr bool has_skip = []<int... l>(std::integer_sequence<int, l...>) {
    return (layer_has_skip<l> || ...);
  }(std::make_integer_sequence<int, L>{});

 private:
  template <int k>
  static constexpr auto end_side() {  // the sub-layer ending at boundary k, if any
    if constexpr (k == 0) return std::type_identity<typename Net::embedding_output>{};
    else return std::type_identity<sublayer<k - 1>>{};
  }
  template <int k>
  static constexpr auto start_kinds() {
    if constexpr (k == num_sublayers) return std::type_identity<norm_list<typename Net::final_norm>>{};
    else return std::type_identity<typename sublayer<k>::pre_kinds>{};
  }
  template <int k>
  static constexpr bool skip_grad_in() {
    if constexpr (k == num_sublayers) return false;
    else return branch_index<k> == 0 && layer_has_skip<layer<k>>;
  }

 public:
  template <int k>
  using ending = typename decltype(end_side<k>())::type;
  template <int k>
  using start_norm_kinds = typename decltype(start_kinds<k>())::type;

  // The fused op of boundary k.
  template <int k>
  using boundary = BoundarySpec<(k > 0), ending<k>::skip_from_layer_input, skip_grad_in<k>(),
                                typename ending<k>::branch_kinds, typename ending<k>::post_kinds,
                                start_norm_kinds<k>>;
  // What replaces boundary k when the layer before it is dropped: a copy of the stream
  // entering that layer, then k's start norms.
  template <int k>
  using bypass = BoundarySpec<false, false, false, norm_list<>, norm_list<>, start_norm_kinds<k>>;

  // The named norm slots of boundary k, in the spec's order (branch, end, start).
  template <int k>
  static std::vector<NormSlotRef> norm_slots() {
    std::vector<NormSlotRef> out;
    auto add = [&]<class Slots>(int l) {
      [&]<int... i>(std::integer_sequence<int, i...>) {
        (out.push_back(norm_slot_ref<typename Slots::template at<i>::kind>(
             "model.layers." + std::to_string(l) + "." + Slots::template at<i>::name)),
         ...);
      }(std::make_integer_sequence<int, Slots::size>{});
    };
    if constexpr (k > 0) {
      add.template operator()<typename ending<k>::branch>(layer<k - 1>);
      add.template operator()<typename ending<k>::post>(layer<k - 1>);
    } else {  // the embedding output's norms: model.<name>
      using Post = typename Net::embedding_output::post;
      [&]<int... i>(std::integer_sequence<int, i...>) {
        (out.push_back(norm_slot_ref<typename Post::template at<i>::kind>(std::string("model.") +
                                                                         Post::template at<i>::name)),
         ...);
      }(std::make_integer_sequence<int, Post::size>{});
    }
    if constexpr (k < num_sublayers) {
      add.template operator()<typename sublayer<k>::pre>(layer<k>);
    } else {
      out.push_back(norm_slot_ref<typename Net::final_norm>("model.norm"));
    }
    return out;
  }

  // Runtime scalars of boundary k: a (residual scale of the ending placement) and c (pre scale
  // of the starting one; 1 for the final norm).
  template <int k>
  static double residual_scale() {
    if constexpr (k == 0) return 1.0;
    else return placement<layer<k - 1>>::residual_scale(L);
  }
  template <int k>
  static double pre_scale() {
    if constexpr (k == num_sublayers) return 1.0;
    else return placement<layer<k>>::pre_scale(layer<k>, L);
  }

  // Calls f.template operator()<k>() for every boundary k, in order.
  template <class F>
  static void for_each_boundary(F&& f) {
    [&]<int... k>(std::integer_sequence<int, k...>) {
      (f.template operator()<k>(), ...);
    }(std::make_integer_sequence<int, num_boundaries>{});
  }
  template <class F>
  static void for_each_sublayer(F&& f) {
    [&]<int... k>(std::integer_sequence<int, k...>) {
      (f.template operator()<k>(), ...);
    }(std::make_integer_sequence<int, num_sublayers>{});
  }
};

// Short human-readable text of a boundary, for `info`: "add -> RMSNorm | RMSNorm -> h".
template <class Spec>
std::string describe_boundary() {
  auto kinds = []<class... K>(norm_list<K...>) {
    std::string s;
    ((s += (s.empty() ? "" : " -> ") + std::string(K::name)), ...);
    return s;
  };
  std::string s;
  if constexpr (Spec::nb > 0) s += kinds(typename Spec::branch_norms{}) + "(f) ";
  s += Spec::residual ? (Spec::skip ? "add+skip" : "add") : "embed";
  if constexpr (Spec::ne > 0) s += " -> " + kinds(typename Spec::end_norms{});
  if constexpr (Spec::ns > 0) s += " | " + kinds(typename Spec::start_norms{}) + " -> h";
  return s;
}

}  // namespace mixln
