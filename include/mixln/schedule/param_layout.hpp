// mixln/schedule/param_layout.hpp — every parameter of a Model: name, shape, offset.
//
// All parameters live in one contiguous buffer (and the gradients in a second of the same
// layout), in this order:
//   model.embed_tokens.weight                                  [V, C]
//   per layer i, prefix model.layers.{i}.:
//     self_attn.{q,k,v,o}_proj.weight                          [C, C] each (q,k,v adjacent)
//     mlp.gate_proj.weight, mlp.up_proj.weight                 [I, C] each (adjacent)
//     mlp.down_proj.weight                                     [C, I]
//     the placement's norms, in the order attn.pre, attn.branch, attn.post,
//     mlp.pre, mlp.branch, mlp.post                             [C] each
//   model.norm.weight                                          [C]
//   lm_head.weight                                             [V, C]
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../dsl/model.hpp"

namespace mixln {

enum class ParamKind { embedding, linear, norm, head };

struct ParamInfo {
  std::string name;
  std::vector<std::size_t> shape;
  std::size_t offset = 0, count = 0;
  ParamKind kind = ParamKind::linear;
  int layer = -1;          // -1: not inside a layer
  double init_gain = 1.0;  // placement's factor on the init std (DeepNorm's β)
  bool scaled_init = false;  // o_proj / down_proj: N(0, σ/√(2L)) under --scaled-init
};

// Offsets of one layer's tensors inside the parameter buffer.
struct LayerOffsets {
  std::size_t qkv = 0, o = 0, gate_up = 0, down = 0;
  std::array<std::size_t, 6> norm{};  // slot order as above; meaningful where present
  std::array<bool, 6> has_norm{};
};

struct ParamLayout {
  std::vector<ParamInfo> params;
  std::vector<LayerOffsets> layers;
  std::size_t embed = 0, final_norm = 0, head = 0, total = 0;

  const ParamInfo* find(const std::string& name) const {
    for (auto& p : params)
      if (p.name == name) return &p;
    return nullptr;
  }
};

namespace detail {
template <class P>
constexpr std::array<const char*, 6> norm_slot_names() {
  return {P::attn.pre, P::attn.branch, P::attn.post, P::mlp.pre, P::mlp.branch, P::mlp.post};
}
}  // namespace detail

template <class Net>
ParamLayout make_param_layout() {
  using Cfg = typename Net::config;
  constexpr std::size_t V = Cfg::vocab_size, C = Cfg::hidden_size;
  constexpr int L = Net::num_layers;
  ParamLayout lay;
  auto add = [&](std::string name, std::vector<std::size_t> shape, ParamKind kind, int layer) {
    ParamInfo p;
    p.name = std::move(name);
    p.shape = std::move(shape);
    p.count = 1;
    for (auto d : p.shape) p.count *= d;
    p.offset = lay.total;
    p.kind = kind;
    p.layer = layer;
    lay.total += p.count;
    lay.params.push_back(std::move(p));
    return lay.params.back().offset;
  };
  lay.embed = add("model.embed_tokens.weight", {V, C}, ParamKind::embedding, -1);
  lay.layers.resize(L);
  [&]<int... i>(std::integer_sequence<int, i...>) {
    (
        [&] {
          using P = typename Net::template layer<i>;
          using B = typename P::block;
          const std::string prefix = "model.layers." + std::to_string(i) + ".";
          LayerOffsets& lo = lay.layers[i];
          std::size_t off[B::linears.size()];
          for (std::size_t w = 0; w < B::linears.size(); ++w) {
            const auto& spec = B::linears[w];
            off[w] = add(prefix + spec.name, {spec.rows, spec.cols}, ParamKind::linear, i);
            auto& p = lay.params.back();
            p.init_gain = P::init_gain(spec.name, L);
            p.scaled_init = w == B::o || w == B::down;
          }
          lo.qkv = off[B::q], lo.o = off[B::o], lo.gate_up = off[B::gate], lo.down = off[B::down];
          constexpr auto names = detail::norm_slot_names<P>();
          for (int s = 0; s < 6; ++s)
            if (names[s]) {
              lo.has_norm[s] = true;
              lo.norm[s] = add(prefix + names[s] + ".weight", {C}, ParamKind::norm, i);
            }
        }(),
        ...);
  }(std::make_integer_sequence<int, L>{});
  lay.final_norm = add("model.norm.weight", {C}, ParamKind::norm, -1);
  lay.head = add("lm_head.weight", {V, C}, ParamKind::head, -1);
  return lay;
}

}  // namespace mixln
