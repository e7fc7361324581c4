// mixln/schedule/param_layout.hpp — every parameter of a Model: name, shape, offset.
//
// All parameters live in one contiguous buffer (and the gradients in a second of the same
// layout), in this order:
//   the input stage's weights (Model's fifth argument, dsl/model_ends.hpp): for tokens
//   model.embed_tokens.weight                                  [V, C]
//   the embedding output's norms (Model's fourth argument), e.g. model.embed_scale.scale [1]
//   per layer i, prefix model.layers.{i}.:
//     each branch's weights, in the order the branch declares them — for LlamaBlock
//     self_attn.{q,k,v,o}_proj.weight [C, C] (q,k,v adjacent: one [3C, C] matrix),
//     self_attn.{q,k,v}_norm.* (with an attention norm), mlp.{gate,up}_proj.weight [I, C]
//     (adjacent), mlp.down_proj.weight [C, I]
//     the placement's norms, sub-layer by sub-layer, pre, branch, post norms in order, each
//     with its kind's parameters (.weight [C], .bias [C], .alpha [1], ...)
//   model.norm.*                                               the final norm's parameters
//   the head's weights (Model's sixth argument): for the language model
//   lm_head.weight                                             [V, C]
#pragma once

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../dsl/model.hpp"
#include "schedule.hpp"

namespace mixln {

enum class ParamKind { embedding, linear, bias, norm, head };  // biases and norms take no weight decay

struct ParamInfo {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t offset = 0, count = 0;
  ParamKind kind = ParamKind::linear;
  int layer = -1;            // -1: not inside a layer
  double init_gain = 1.0;    // placement's factor on the init std (DeepNorm's β)
  bool scaled_init = false;  // writes into the residual stream: N(0, σ/√(2L)) under --scaled-init
  bool normal_init = true;   // N(0, σ·gain); otherwise every element is init_value
  double init_value = 0.0;
  bool decay = true;         // AdamW's weight decay applies (not to norms, biases, a ViT's tokens)
};

struct ParamLayout {
  std::vector<ParamInfo> params;
  // branch_weights[k]: offsets of sub-layer k's branch weights, in declared order.
  std::vector<std::vector<std::size_t>> branch_weights;
  // layer_begin[l]: offset of layer l's first parameter; layer_begin[L] = final_norm.
  std::vector<std::size_t> layer_begin;
  // The input stage's and the head's weights, in declared order.
  std::vector<std::size_t> input_weights, head_weights;
  std::size_t embed = 0, final_norm = 0, head = 0, total = 0;  // embed: the input stage's first

  const ParamInfo* find(const std::string& name) const {
    const auto it = index_.find(name);
    return it == index_.end() ? nullptr : &params[it->second];
  }
  std::size_t offset_of(const std::string& name) const {
    const ParamInfo* p = find(name);
    if (!p) throw std::logic_error("the model has no parameter '" + name + "'");
    return p->offset;
  }

  // Appends a parameter; returns its offset. Names must be unique.
  std::size_t add(ParamInfo p) {
    p.count = 1;
    for (auto d : p.shape) p.count *= d;
    p.offset = total;
    if (!index_.emplace(p.name, params.size()).second)
      throw std::logic_error("two parameters of the model are named '" + p.name +
                             "' (a block's weight and a placement's norm?)");
    total += p.count;
    params.push_back(std::move(p));
    return params.back().offset;
  }

 private:
  std::unordered_map<std::string, std::size_t> index_;
};

namespace detail {
// The parameters of norm kind K named `name` over C channels.
template <class K>
void add_norm_params(ParamLayout& lay, const std::string& name, std::size_t C, int layer) {
  for (const auto& p : K::params) {
    ParamInfo info;
    info.name = name + "." + p.suffix;
    info.shape = {p.per_channel ? C : 1};
    info.kind = ParamKind::norm;
    info.layer = layer;
    info.normal_init = false;
    info.decay = false;
    info.init_value = p.init_width_power == 0 ? p.init : p.init * std::pow(double(C), p.init_width_power);
    lay.add(std::move(info));
  }
}
template <class Slots>
void add_slot_params(ParamLayout& lay, const std::string& prefix, std::size_t C, int layer) {
  [&]<int... i>(std::integer_sequence<int, i...>) {
    (add_norm_params<typename Slots::template at<i>::kind>(lay, prefix + Slots::template at<i>::name, C, layer),
     ...);
  }(std::make_integer_sequence<int, Slots::size>{});
}

// A declared weight as the layout keeps it.
inline ParamInfo weight_info(const WeightDecl& w, std::string name, int layer) {
  ParamInfo info;
  info.name = std::move(name);
  info.shape = w.shape;
  info.kind = w.norm ? ParamKind::norm
              : w.role == WeightRole::embedding ? ParamKind::embedding
              : w.role == WeightRole::head      ? ParamKind::head
              : w.decay                         ? ParamKind::linear
                                                : ParamKind::bias;
  info.layer = layer;
  info.normal_init = w.normal_init;
  info.init_value = w.value;
  info.scaled_init = w.residual_output;
  info.decay = w.decay && !w.norm;
  return info;
}
// A model end's weights (full names), appended in declared order; their offsets.
inline std::vector<std::size_t> add_end_params(ParamLayout& lay, const WeightList& wl) {
  std::vector<std::size_t> offsets;
  for (const WeightDecl& w : wl.items()) offsets.push_back(lay.add(weight_info(w, w.name, -1)));
  return offsets;
}

// Layer l's parameters: its block's branch weights, then its placement's norms.
template <class Net, int l, int... b>
void add_layer_params(ParamLayout& lay, std::integer_sequence<int, b...>) {
  using S = Schedule<Net>;
  using P = typename S::template placement<l>;
  using Subs = typename S::template sublayers<l>;
  constexpr int L = Net::num_layers;
  constexpr std::size_t C = Net::config::hidden_size;
  const std::string prefix = "model.layers." + std::to_string(l) + ".";
  lay.layer_begin[l] = lay.total;
  auto add_branch = [&](int k, const WeightList& wl) {
    for (const WeightDecl& w : wl.items()) {
      ParamInfo info;
      info.name = prefix + w.name;
      info.shape = w.shape;
      info = weight_info(w, prefix + w.name, l);
      info.init_gain = w.normal_init ? P::init_gain(w.name, L) : 1.0;
      lay.branch_weights[std::size_t(k)].push_back(lay.add(std::move(info)));
    }
  };
  WeightList lists[sizeof...(b)];
  (S::template branch<S::first_sublayer[l] + b>::weights(lists[b]), ...);
  (add_branch(S::first_sublayer[l] + b, lists[b]), ...);
  (add_slot_params<typename Subs::template at<b>::slots>(lay, prefix, C, l), ...);
}

template <class Net, int... l>
void add_layers_params(ParamLayout& lay, std::integer_sequence<int, l...>) {
  using S = Schedule<Net>;
  (add_layer_params<Net, l>(lay, std::make_integer_sequence<int, S::template sublayers<l>::size>{}), ...);
}
}  // namespace detail

template <class Net>
ParamLayout make_param_layout() {
  using Cfg = typename Net::config;
  using S = Schedule<Net>;
  constexpr std::size_t C = Cfg::hidden_size;
  constexpr int L = Net::num_layers;
  ParamLayout lay;
  WeightList input, head;
  Net::input::weights(input);
  Net::head::weights(head);
  lay.embed = lay.total;
  lay.input_weights = detail::add_end_params(lay, input);
  detail::add_slot_params<typename Net::embedding_output::slots>(lay, "model.", C, -1);
  lay.branch_weights.resize(S::num_sublayers);
  lay.layer_begin.resize(L + 1);
  detail::add_layers_params<Net>(lay, std::make_integer_sequence<int, L>{});
  lay.final_norm = lay.layer_begin[L] = lay.total;
  detail::add_norm_params<typename Net::final_norm>(lay, "model.norm", C, -1);
  lay.head = lay.total;
  lay.head_weights = detail::add_end_params(lay, head);
  return lay;
}

}  // namespace mixln
