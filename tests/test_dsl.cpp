// Type-level tests: the DSL, Mix-LN split arithmetic, layer plans, boundary kinds, layouts.
#include <doctest/doctest.h>

#include <mixln/mixln.hpp>

#include "b2t.hpp"
#include "configs.hpp"

using namespace mixln;

using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using B = LlamaBlock<Cfg>;

// --- Mix-LN split: ⌊αL⌋ Post-LN layers, then Pre-LN ------------------------------------------
static_assert(std::is_same_v<MixLN<B, 12, std::ratio<1, 4>>, Stack<PostLN<B>, 3, PreLN<B>, 9>>);
static_assert(std::is_same_v<MixLN<B, 24, std::ratio<1, 4>>, Stack<PostLN<B>, 6, PreLN<B>, 18>>);
static_assert(std::is_same_v<MixLN<B, 32, std::ratio<1, 16>>, Stack<PostLN<B>, 2, PreLN<B>, 30>>);
static_assert(std::is_same_v<MixLN<B, 8>, Stack<PostLN<B>, 2, PreLN<B>, 6>>);  // α = 1/4 default
static_assert(std::is_same_v<MixLN<B, 10, std::ratio<1, 4>>, Stack<PostLN<B>, 2, PreLN<B>, 8>>);  // ⌊2.5⌋
static_assert(std::is_same_v<MixLN<B, 12, std::ratio<0>>, Stack<PostLN<B>, 0, PreLN<B>, 12>>);
static_assert(std::is_same_v<MixLN<B, 12, std::ratio<1>>, Stack<PostLN<B>, 12, PreLN<B>, 0>>);
static_assert(std::is_same_v<MixLN<B, 12, std::ratio<2, 8>>, MixLN<B, 12, std::ratio<1, 4>>>);

static_assert(MixLN<B, 12, std::ratio<0>>::num_layers == 12);
static_assert(MixLN<B, 12, std::ratio<1>>::num_layers == 12);

TEST_CASE("MixLN puts floor(alpha L) Post-LN layers first") {
  using S = MixLN<B, 24, std::ratio<1, 4>>;
  CHECK(S::num_layers == 24);
  CHECK(std::is_same_v<S::layer<0>, PostLN<B>>);
  CHECK(std::is_same_v<S::layer<5>, PostLN<B>>);
  CHECK(std::is_same_v<S::layer<6>, PreLN<B>>);
  CHECK(std::is_same_v<S::layer<23>, PreLN<B>>);
  using S7b = MixLN<B, 32, std::ratio<1, 16>>;
  CHECK(std::is_same_v<S7b::layer<1>, PostLN<B>>);
  CHECK(std::is_same_v<S7b::layer<2>, PreLN<B>>);
}

TEST_CASE("Stack flattens any sequence of (placement, count) pairs, zero counts included") {
  using S = Stack<PreLN<B>, 2, PostLN<B>, 0, DeepNorm<B>, 3, PreLN<B>, 3>;
  static_assert(S::num_layers == 8);
  CHECK(std::is_same_v<S::layer<1>, PreLN<B>>);
  CHECK(std::is_same_v<S::layer<2>, DeepNorm<B>>);
  CHECK(std::is_same_v<S::layer<4>, DeepNorm<B>>);
  CHECK(std::is_same_v<S::layer<5>, PreLN<B>>);
  using Net = Model<Cfg, S>;
  CHECK(std::string(Net::placement_names[0]) == "PreLN");
  CHECK(std::string(Net::placement_names[3]) == "DeepNorm");
}

TEST_CASE("a nested Stack repeats its layers") {
  using Pair = Stack<PostLN<B>, 1, PreLN<B>, 1>;
  using S = Stack<Pair, 3, SandwichLN<B>, 1>;
  static_assert(S::num_layers == 7);
  CHECK(std::is_same_v<S::layer<0>, PostLN<B>>);
  CHECK(std::is_same_v<S::layer<1>, PreLN<B>>);
  CHECK(std::is_same_v<S::layer<4>, PostLN<B>>);
  CHECK(std::is_same_v<S::layer<5>, PreLN<B>>);
  CHECK(std::is_same_v<S::layer<6>, SandwichLN<B>>);
}

TEST_CASE("LlamaConfig takes its named arguments in any order") {
  using A = LlamaConfig<heads<8>, vocab<32000>, intermediate<1368>, hidden<512>>;
  CHECK(A::vocab_size == 32000);
  CHECK(A::hidden_size == 512);
  CHECK(A::intermediate_size == 1368);
  CHECK(A::num_heads == 8);
  CHECK(A::head_dim == 64);
}

TEST_CASE("placements are recognised, user-defined ones included") {
  CHECK(is_placement_v<PreLN<B>>);
  CHECK(is_placement_v<PostLN<B>>);
  CHECK(is_placement_v<DeepNorm<B>>);
  CHECK(is_placement_v<SandwichLN<B>>);
  CHECK(is_placement_v<LNS<B>>);
  CHECK(is_placement_v<b2t::B2T<B>>);
  CHECK_FALSE(is_placement_v<B>);
  CHECK_FALSE(is_placement_v<int>);
}

TEST_CASE("placement scalars: DeepNorm a = (2L)^1/4 and beta = (8L)^-1/4, LNS 1/sqrt(l)") {
  CHECK(DeepNorm<B>::residual_scale(12) == doctest::Approx(std::pow(24.0, 0.25)));
  CHECK(DeepNorm<B>::init_gain("self_attn.v_proj.weight", 12) == doctest::Approx(std::pow(96.0, -0.25)));
  CHECK(DeepNorm<B>::init_gain("mlp.down_proj.weight", 12) == doctest::Approx(std::pow(96.0, -0.25)));
  CHECK(DeepNorm<B>::init_gain("self_attn.q_proj.weight", 12) == 1.0);
  CHECK(DeepNorm<B>::init_gain("self_attn.k_proj.weight", 12) == 1.0);
  CHECK(PreLN<B>::residual_scale(12) == 1.0);
  CHECK(LNS<B>::pre_scale(0, 12) == 1.0);
  CHECK(LNS<B>::pre_scale(3, 12) == doctest::Approx(0.5));
}

TEST_CASE("boundary kinds follow the placements on either side") {
  using Net = Model<Cfg, MixLN<B, 8>>;  // 2 Post-LN, 6 Pre-LN
  constexpr BoundaryKind embed = boundary_kind<Net, 0>();
  CHECK_FALSE(embed.residual);
  CHECK_FALSE(embed.start_norm);  // layer 0 is Post-LN: its attention sees the raw embedding
  constexpr BoundaryKind post_post = boundary_kind<Net, 1>();
  CHECK(post_post == BoundaryKind{.residual = true, .end_norm = true});
  constexpr BoundaryKind transition = boundary_kind<Net, 4>();  // end of layer 1 → layer 2
  CHECK(transition == BoundaryKind{.residual = true, .end_norm = true, .start_norm = true});
  constexpr BoundaryKind pre_pre = boundary_kind<Net, 5>();
  CHECK(pre_pre == BoundaryKind{.residual = true, .start_norm = true});
  constexpr BoundaryKind final_norm = boundary_kind<Net, 16>();
  CHECK(final_norm == BoundaryKind{.residual = true, .start_norm = true});

  using Sand = Model<Cfg, Stack<SandwichLN<B>, 2>>;
  CHECK(boundary_kind<Sand, 1>() ==
        BoundaryKind{.residual = true, .branch_norm = true, .start_norm = true});
  CHECK(boundary_kind<Sand, 0>() == BoundaryKind{.residual = false, .start_norm = true});

  using PostOnly = Model<Cfg, Stack<PostLN<B>, 2>>;
  CHECK(boundary_kind<PostOnly, 4>() ==
        BoundaryKind{.residual = true, .end_norm = true, .start_norm = true});  // + final norm

  using Skip = Model<Cfg, Stack<b2t::B2T<B>, 2>>;
  CHECK(boundary_kind<Skip, 0>().skip_grad_in);
  CHECK(boundary_kind<Skip, 2>() ==
        BoundaryKind{.residual = true, .end_norm = true, .skip = true, .skip_grad_in = true});
  CHECK(boundary_kind<Skip, 4>().skip);
  CHECK_FALSE(boundary_kind<Skip, 1>().skip);
  CHECK(has_skip<Skip>());
  CHECK_FALSE(has_skip<Net>());
}

TEST_CASE("parameter layout: names, shapes, contiguous q|k|v and gate|up") {
  using Net = Model<Cfg, MixLN<B, 8>>;
  const ParamLayout lay = make_param_layout<Net>();
  CHECK(lay.total == 461888);
  CHECK(lay.params.front().name == "model.embed_tokens.weight");
  CHECK(lay.params.back().name == "lm_head.weight");
  REQUIRE(lay.find("model.layers.0.post_attention_layernorm.weight"));
  REQUIRE(lay.find("model.layers.0.post_feedforward_layernorm.weight"));
  CHECK_FALSE(lay.find("model.layers.0.input_layernorm.weight"));
  REQUIRE(lay.find("model.layers.2.input_layernorm.weight"));
  REQUIRE(lay.find("model.layers.2.post_attention_layernorm.weight"));
  CHECK_FALSE(lay.find("model.layers.2.post_feedforward_layernorm.weight"));
  const auto* q = lay.find("model.layers.3.self_attn.q_proj.weight");
  const auto* k = lay.find("model.layers.3.self_attn.k_proj.weight");
  const auto* v = lay.find("model.layers.3.self_attn.v_proj.weight");
  const auto* g = lay.find("model.layers.3.mlp.gate_proj.weight");
  const auto* u = lay.find("model.layers.3.mlp.up_proj.weight");
  const auto* d = lay.find("model.layers.3.mlp.down_proj.weight");
  REQUIRE((q && k && v && g && u && d));
  CHECK(k->offset == q->offset + 64 * 64);
  CHECK(v->offset == k->offset + 64 * 64);
  CHECK(u->offset == g->offset + 172 * 64);
  CHECK(d->shape == std::vector<std::size_t>{64, 172});
  CHECK(lay.layers[3].qkv == q->offset);

  using Sand = Model<Cfg, Stack<SandwichLN<B>, 1>>;
  const ParamLayout ls = make_param_layout<Sand>();
  for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                        "post_feedforward_layernorm"})
    CHECK(ls.find(std::string("model.layers.0.") + n + ".weight"));

  using Deep = Model<Cfg, Stack<DeepNorm<B>, 6>>;
  const ParamLayout ld = make_param_layout<Deep>();
  CHECK(ld.find("model.layers.0.self_attn.v_proj.weight")->init_gain ==
        doctest::Approx(std::pow(48.0, -0.25)));
  CHECK(ld.find("model.layers.0.self_attn.q_proj.weight")->init_gain == 1.0);
}

TEST_CASE("the activation plan grows with the batch and holds one slot set per boundary") {
  using Net = examples::tiny::mixln;
  using E = Engine<Net, cpu::Backend<float>>;
  const ActivationPlan p1 = E::plan(1, 16), p2 = E::plan(2, 16);
  CHECK(p2.bytes() > p1.bytes());
  int y_slots = 0, s_slots = 0, h_slots = 0;
  for (auto& s : p1.slots) {
    if (!s.name.starts_with("boundary")) continue;
    y_slots += s.name.ends_with(".y");
    s_slots += s.name.ends_with(".s");
    h_slots += s.name.ends_with(".h");
  }
  CHECK(y_slots == 17);
  CHECK(s_slots == 4);   // the end norms of the two Post-LN layers
  CHECK(h_slots == 13);  // 12 Pre-LN norms + the final norm
}

TEST_CASE("init follows DESIGN.md: N(0, 0.02), norms 1, DeepNorm beta, reproducible") {
  using Net = Model<Cfg, Stack<DeepNorm<B>, 8>>;
  const ParamLayout lay = make_param_layout<Net>();
  std::vector<float> a(lay.total), b(lay.total);
  init_params(lay, 8, std::span<float>(a), {.seed = 5});
  init_params(lay, 8, std::span<float>(b), {.seed = 5});
  CHECK(a == b);
  auto stddev = [&](const char* name) {
    const auto* p = lay.find(name);
    double s = 0;
    for (std::size_t i = 0; i < p->count; ++i) s += double(a[p->offset + i]) * a[p->offset + i];
    return std::sqrt(s / double(p->count));
  };
  CHECK(stddev("model.embed_tokens.weight") == doctest::Approx(0.02).epsilon(0.02));
  CHECK(stddev("model.layers.0.self_attn.q_proj.weight") == doctest::Approx(0.02).epsilon(0.03));
  CHECK(stddev("model.layers.0.mlp.up_proj.weight") ==
        doctest::Approx(0.02 * std::pow(64.0, -0.25)).epsilon(0.03));
  CHECK(a[lay.find("model.norm.weight")->offset] == 1.0f);
  std::vector<float> c(lay.total);
  init_params(lay, 8, std::span<float>(c), {.seed = 6});
  CHECK(a != c);
  init_params(lay, 8, std::span<float>(c), {.seed = 5, .scaled_init = true});
  const auto* o = lay.find("model.layers.0.self_attn.o_proj.weight");
  CHECK(c[o->offset] == doctest::Approx(a[o->offset] / 4.0));  // 1/sqrt(2·8)
}
