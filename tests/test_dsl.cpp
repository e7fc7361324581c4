// Type-level tests: the DSL, Mix-LN split arithmetic, layer plans, boundary kinds, layouts.
#include <doctest/doctest.h>

#include <mixln/mixln.hpp>

#include "b2t.hpp"
#include "configs.hpp"
#include "gelu_block.hpp"

using namespace mixln;

using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using B = LlamaBlock<Cfg>;

// A placement with chains of norms of several kinds around each branch.
template <class Bk>
struct Chains : placement<Bk> {
  static constexpr const char* name = "Chains";
  using attn = SubLayer<PreNorm<RMSNorm, "a">, BranchNorm<LayerNorm, "b">, BranchNorm<RMSNorm, "c">,
                        PostNorm<DyT<>, "d">, PostNorm<RMSNorm, "e">>;
  using mlp = SubLayer<PreNorm<RMSNorm, "f">, PreNorm<LayerNorm, "g">>;
};

// A block of one branch (an MLP only), to check that layers of different shapes compose.
template <class C>
struct OneBranch {
  using config = C;
  static constexpr const char* name = "mlp_only";
  using branches = type_list<SwiGLUMLP<C>>;
};
// Pre-LN for a one-branch block: it lists its single sub-layer.
template <class Bk>
struct PreOne : placement<Bk> {
  static constexpr const char* name = "PreOne";
  using sublayers = type_list<SubLayer<PreNorm<RMSNorm, "input_layernorm">>>;
};

// A branch whose declarations do not follow its enum.
template <class C>
struct Misnumbered {
  using config = C;
  static constexpr const char* name = "misnumbered";
  struct Br {
    static constexpr const char* name = "bad";
    static void weights(WeightList& w) { w.linear(1, "w", 4, 4); }
    static void activations(ActivationList&, std::size_t, std::size_t) {}
  };
  using branches = type_list<Br>;
};

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
  CHECK(is_placement_v<PeriLN<B>>);
  CHECK(is_placement_v<OLMo2<B>>);
  CHECK(is_placement_v<HybridNorm<B>>);
  CHECK(is_placement_v<PreLN<B, DyT<>>>);
  CHECK(is_placement_v<b2t::B2T<B>>);
  CHECK(is_placement_v<PostLN<gelu::GeluBlock<Cfg>, LayerNorm>>);
  CHECK_FALSE(is_placement_v<B>);
  CHECK_FALSE(is_placement_v<int>);
}

TEST_CASE("the concepts: norm kinds, blocks, branches and backends") {
  static_assert(NormKind<RMSNorm> && NormKind<LayerNorm> && NormKind<DyT<>> && NormKind<DyT<std::ratio<1, 10>>>);
  static_assert(!NormKind<int> && !NormKind<B>);
  static_assert(Block<B> && Block<LlamaBlock<Cfg, QKNorm<PerHead>>> && Block<gelu::GeluBlock<Cfg>>);
  static_assert(!Block<int> && !Block<PreLN<B>>);
  static_assert(Branch<LlamaAttention<Cfg>> && Branch<SwiGLUMLP<Cfg>> && Branch<gelu::GeluMLP<Cfg>>);
  static_assert(Backend<cpu::Backend<float>> && Backend<cpu::Backend<double>>);
  static_assert(!Backend<int>);
  static_assert(Placement<HybridNorm<LlamaBlock<Cfg, QKVNorm<FullWidth>>>>);
  // MixLN with a norm kind is Post-LN and Pre-LN with that kind.
  static_assert(std::is_same_v<MixLN<B, 8, std::ratio<1, 4>, LayerNorm>,
                               Stack<PostLN<B, LayerNorm>, 2, PreLN<B, LayerNorm>, 6>>);
  static_assert(std::is_same_v<PreLN<B>, PreLN<B, RMSNorm>>);
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

template <class Spec, bool Res, bool Skip, bool SkipIn, class Br, class End, class Start>
constexpr bool spec_is = std::is_same_v<Spec, BoundarySpec<Res, Skip, SkipIn, Br, End, Start>>;
template <class... K>
using L = norm_list<K...>;
using R = RMSNorm;

TEST_CASE("boundary specs follow the placements on either side") {
  using S = Schedule<Model<Cfg, MixLN<B, 8>>>;  // 2 Post-LN, 6 Pre-LN
  static_assert(S::num_sublayers == 16 && S::num_boundaries == 17);
  // layer 0 is Post-LN: its attention sees the raw embedding
  static_assert(spec_is<S::boundary<0>, false, false, false, L<>, L<>, L<>>);
  static_assert(spec_is<S::boundary<1>, true, false, false, L<>, L<R>, L<>>);   // Post→Post
  static_assert(spec_is<S::boundary<4>, true, false, false, L<>, L<R>, L<R>>);  // Post→Pre
  static_assert(spec_is<S::boundary<5>, true, false, false, L<>, L<>, L<R>>);   // Pre→Pre
  static_assert(spec_is<S::boundary<16>, true, false, false, L<>, L<>, L<R>>);  // + final norm
  CHECK(describe_boundary<S::boundary<4>>() == "add -> RMSNorm | RMSNorm -> h");

  using Sand = Schedule<Model<Cfg, Stack<SandwichLN<B>, 2>>>;
  static_assert(spec_is<Sand::boundary<1>, true, false, false, L<R>, L<>, L<R>>);
  static_assert(spec_is<Sand::boundary<0>, false, false, false, L<>, L<>, L<R>>);
  using PostOnly = Schedule<Model<Cfg, Stack<PostLN<B>, 2>>>;
  static_assert(spec_is<PostOnly::boundary<4>, true, false, false, L<>, L<R>, L<R>>);

  using Skip = Schedule<Model<Cfg, Stack<b2t::B2T<B>, 2>>>;
  static_assert(Skip::boundary<0>::skip_grad_in);
  static_assert(spec_is<Skip::boundary<2>, true, true, true, L<>, L<R>, L<>>);
  static_assert(Skip::boundary<4>::skip && !Skip::boundary<1>::skip);
  static_assert(Skip::has_skip && !S::has_skip);

  // the new placements and norm kinds
  using Hy = Schedule<Model<Cfg, Stack<HybridNorm<B>, 2>>>;
  static_assert(spec_is<Hy::boundary<1>, true, false, false, L<>, L<R>, L<>>);  // attention sum normalised
  static_assert(spec_is<Hy::boundary<2>, true, false, false, L<>, L<>, L<>>);   // the MLP adds plainly
  using Ol = Schedule<Model<Cfg, Stack<OLMo2<B>, 2>>>;
  static_assert(spec_is<Ol::boundary<1>, true, false, false, L<R>, L<>, L<>>);
  using Dy = Schedule<Model<Cfg, Stack<PreLN<B, DyT<>>, 2>, LayerNorm>>;
  static_assert(spec_is<Dy::boundary<3>, true, false, false, L<>, L<>, L<DyT<>>>);
  static_assert(spec_is<Dy::boundary<4>, true, false, false, L<>, L<>, L<LayerNorm>>);
  // a placement with chains of norms: no cap on the norms of one boundary
  using Chain = Schedule<Model<Cfg, Stack<Chains<B>, 2>>>;
  static_assert(spec_is<Chain::boundary<1>, true, false, false, L<LayerNorm, R>, L<DyT<>, R>, L<R, LayerNorm>>);
  CHECK(describe_boundary<Chain::boundary<1>>() ==
        "LayerNorm -> RMSNorm(f) add -> DyT -> RMSNorm | RMSNorm -> LayerNorm -> h");
}

TEST_CASE("sub-layers follow the branches of each layer's block") {
  using S = Schedule<Model<Cfg, Stack<PreOne<OneBranch<Cfg>>, 2, PreLN<B>, 1>>>;
  static_assert(S::num_sublayers == 4);
  static_assert(S::first_sublayer[1] == 1 && S::first_sublayer[2] == 2 && S::first_sublayer[3] == 4);
  static_assert(S::layer<1> == 1 && S::layer<2> == 2 && S::branch_index<3> == 1);
  static_assert(std::is_same_v<S::branch<3>, SwiGLUMLP<Cfg>>);
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
  CHECK(lay.branch_weights[6][0] == q->offset);
  CHECK(lay.branch_weights[7][0] == g->offset);
  CHECK(lay.layer_begin[3] == q->offset);
  CHECK(lay.find("model.layers.3.self_attn.o_proj.weight")->scaled_init);
  CHECK(d->scaled_init);
  CHECK_FALSE(q->scaled_init);

  using Sand = Model<Cfg, Stack<SandwichLN<B>, 1>>;
  const ParamLayout ls = make_param_layout<Sand>();
  for (const char* n : {"input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
                        "post_feedforward_layernorm"})
    CHECK(ls.find(std::string("model.layers.0.") + n + ".weight"));

  using Deep = Model<Cfg, Stack<DeepNorm<B>, 6>>;
  const ParamLayout ld = make_param_layout<Deep>();
  CHECK(ld.find("model.layers.0.self_attn.v_proj.weight")->init_gain == doctest::Approx(std::pow(48.0, -0.25)));
  CHECK(ld.find("model.layers.0.self_attn.q_proj.weight")->init_gain == 1.0);
}

TEST_CASE("parameter layout of the new norm kinds, attention norms and a user block") {
  using Q = LlamaBlock<Cfg, QKNorm<PerHead>>;
  const ParamLayout lq = make_param_layout<Model<Cfg, Stack<PreLN<Q>, 1>>>();
  REQUIRE(lq.find("model.layers.0.self_attn.q_norm.weight"));
  CHECK(lq.find("model.layers.0.self_attn.q_norm.weight")->shape == std::vector<std::size_t>{16});  // head_dim
  CHECK(lq.find("model.layers.0.self_attn.k_norm.weight")->kind == ParamKind::norm);
  CHECK_FALSE(lq.find("model.layers.0.self_attn.v_norm.weight"));
  const ParamLayout lh = make_param_layout<Model<Cfg, Stack<HybridNorm<LlamaBlock<Cfg, QKVNorm<FullWidth>>>, 1>>>();
  CHECK(lh.find("model.layers.0.self_attn.v_norm.weight")->shape == std::vector<std::size_t>{64});  // hidden
  CHECK(lh.find("model.layers.0.post_attention_layernorm.weight"));
  CHECK_FALSE(lh.find("model.layers.0.post_feedforward_layernorm.weight"));

  using Dy = Model<Cfg, Stack<PreLN<B, DyT<>>, 1>, LayerNorm>;
  const ParamLayout ld = make_param_layout<Dy>();
  const auto* alpha = ld.find("model.layers.0.input_layernorm.alpha");
  REQUIRE(alpha);
  CHECK(alpha->shape == std::vector<std::size_t>{1});
  CHECK(ld.find("model.layers.0.input_layernorm.bias"));
  CHECK(ld.find("model.norm.bias"));
  CHECK_FALSE(ld.find("model.norm.alpha"));
  std::vector<float> w(ld.total);
  init_params(ld, 1, std::span<float>(w), {.seed = 1});
  CHECK(w[alpha->offset] == 0.5f);  // α₀
  CHECK(w[ld.find("model.layers.0.input_layernorm.weight")->offset] == 1.0f);
  CHECK(w[ld.find("model.layers.0.input_layernorm.bias")->offset] == 0.0f);
  CHECK(w[ld.find("model.norm.bias")->offset + 5] == 0.0f);

  const ParamLayout lg = make_param_layout<Model<Cfg, Stack<PreLN<gelu::GeluBlock<Cfg>>, 1>>>();
  CHECK_FALSE(lg.find("model.layers.0.mlp.gate_proj.weight"));
  CHECK(lg.find("model.layers.0.mlp.up_proj.weight")->shape == std::vector<std::size_t>{172, 64});
  CHECK(lg.find("model.layers.0.mlp.down_proj.weight")->scaled_init);
}

TEST_CASE("a branch whose enum disagrees with its declarations is refused when the model is built") {
  using Bad = Model<Cfg, Stack<PreOne<Misnumbered<Cfg>>, 1>>;
  CHECK_THROWS_WITH_AS(make_param_layout<Bad>(), doctest::Contains("declared as number 1 but is number 0"),
                       std::logic_error);
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

TEST_CASE("init follows docs/design.md §3.4: N(0, 0.02), norms 1, DeepNorm beta, reproducible") {
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
  // The Mix-LN authors' recipe: the embedding alone changes (std sqrt(2/5)), from the same draws.
  const InitRecipe* authors = find_init_recipe("mixln-authors");
  REQUIRE(authors != nullptr);
  CHECK(find_init_recipe("xavier") == nullptr);
  InitOptions opt = authors->options(Cfg::hidden_size);
  opt.seed = 5;
  CHECK(opt.std == 0.02);
  init_params(lay, 8, std::span<float>(c), opt);
  const auto* e = lay.find("model.embed_tokens.weight");
  for (std::size_t i : {std::size_t(0), e->count / 2, e->count - 1})
    CHECK(c[e->offset + i] == doctest::Approx(a[e->offset + i] * std::sqrt(0.4) / 0.02).epsilon(1e-5));
  const auto* h = lay.find("lm_head.weight");
  CHECK(std::equal(a.begin() + std::ptrdiff_t(e->offset + e->count), a.end(),
                   c.begin() + std::ptrdiff_t(e->offset + e->count)));  // every tensor after it: unchanged
  CHECK(c[h->offset] == a[h->offset]);
  // A recipe that scales with the width: HybridNorm's small init √(2/(5C)).
  const InitOptions small = find_init_recipe("hybridnorm")->options(128);
  CHECK(small.std == doctest::Approx(std::sqrt(2.0 / (5 * 128))));
  CHECK(small.embed_std == small.std);
  CHECK(small.scaled_init);
}

// --- the Hugging Face export's modules: traits on the types, not lists of names --------------
// A norm kind of the user's (RMSNorm's math under another name) without an `hf_module`, and
// one with the Python of its class.
struct UnexportedNorm {
  static constexpr const char* name = "UnexportedNorm";
  static constexpr auto params = RMSNorm::params;
  static constexpr int num_stats = RMSNorm::num_stats;
  template <class Row, class In, class T>
  static void statistics(const Row& row, In&& in, const T* x, T* st) {
    RMSNorm::statistics(row, in, x, st);
  }
  template <class T>
  static T apply(const T* st, T x, int j, const T* const* w) {
    return RMSNorm::apply(st, x, j, w);
  }
  template <class Row, class DOut, class DIn, class T>
  static void backward(const Row& row, const T* x, const T* st, const T* const* w, DOut&& dout, DIn&& din,
                       T* const* dw) {
    RMSNorm::backward(row, x, st, w, dout, din, dw);
  }
};
struct ExportedNorm : UnexportedNorm {
  static constexpr const char* name = "ExportedNorm";
  static constexpr HfModule hf_module{"MyNorm", "class MyNorm(MixlnRMSNorm):\n    def __init__(self, size, config):\n"
                                                "        super().__init__(size, 1e-6)\n"};
};

TEST_CASE("the embedding output's norms: parameters, signature, export and its check") {
  using Scaled = examples::tiny::dyt_llama;  // ScaledEmbedding
  using Normed = examples::tiny::periln_embnorm;  // NormedEmbedding<RMSNorm>
  const ParamLayout lay = make_param_layout<Scaled>();
  REQUIRE(lay.find("model.embed_scale.scale") != nullptr);
  CHECK(lay.find("model.embed_scale.scale")->init_value == doctest::Approx(8.0));  // √64
  CHECK(make_param_layout<Normed>().find("model.embedding_norm.weight")->shape == std::vector<std::size_t>{64});
  // a checkpoint of the plain model is not one of these, and the other way round
  CHECK_FALSE(signature_matches<examples::tiny::dyt>(model_signature<Scaled>()));
  CHECK_FALSE(signature_matches<examples::tiny::periln>(model_signature<Normed>()));
  CHECK(signature_matches<Normed>(model_signature<Normed>()));
  CHECK_FALSE(model_signature<examples::tiny::mixln>().contains("embedding_norms"));  // unchanged
  // config.json names them; a folder of the plain model (or of the other) is refused
  const nlohmann::json j = nlohmann::json::parse(hf_config<Scaled>(256, "float32").dump());
  CHECK(j["model_type"] == "mixln");
  CHECK(j["mixln"]["embedding_norms"] == nlohmann::json::parse(R"([{"name": "embed_scale", "kind": "EmbedScale"}])"));
  CHECK_NOTHROW(check_hf_config<Scaled>(j, "dir"));
  CHECK_THROWS_WITH(check_hf_config<Scaled>(nlohmann::json::parse(hf_config<examples::tiny::dyt>(256, "float32").dump()),
                                            "dir"),
                    doctest::Contains("embedding output norms are [], this model's are"));
  CHECK_THROWS_WITH(check_hf_config<examples::tiny::periln>(nlohmann::json::parse(hf_config<Normed>(256, "float32").dump()),
                                                         "dir"),
                    doctest::Contains("embedding output norms are [{\"kind\":\"RMSNorm\",\"name\":\"embedding_norm\"}]"));
  CHECK(hf_module_uses<Scaled>().back().name == "EmbedScale");
}

TEST_CASE("export: each branch and norm kind says how modeling_mixln.py computes it") {
  // the library's types are computed by modeling_mixln.py itself: nothing is appended
  CHECK(hf_python_extensions<examples::tiny::mixln>().empty());
  CHECK(hf_python_extensions<examples::tiny::dyt>().empty());
  CHECK_NOTHROW(hf_config<examples::tiny::hybridnorm>(256, "float32"));
  // the uses, distinct and in order: attention, the MLP, the norms; the final norm last
  const auto uses = hf_module_uses<examples::tiny::layernorm_mixln>();
  REQUIRE(uses.size() == 3);
  CHECK(uses[0].name == "attention");
  CHECK(uses[1].name == "swiglu_mlp");
  CHECK(uses[2].name == "LayerNorm");
  // a block of the user's (examples/gelu_block.hpp) brings its own class, registered by name
  const std::string gelu = hf_python_extensions<examples::tiny::gelu_mixln>();
  CHECK(gelu.find("class GeluMLP(nn.Module):") != std::string::npos);
  CHECK(gelu.find("BRANCHES[\"gelu_mlp\"] = GeluMLP\n") != std::string::npos);
  // so does a norm kind of the user's, in a norm slot or as the final norm
  using Mine = Model<Cfg, Stack<PreLN<B, ExportedNorm>, 2>, ExportedNorm>;
  const std::string mine = hf_python_extensions<Mine>();
  CHECK(mine.find("class MyNorm(MixlnRMSNorm):") != std::string::npos);
  CHECK(mine.find("NORMS[\"ExportedNorm\"] = MyNorm\n") != std::string::npos);
  CHECK(mine.find("class MyNorm", mine.find("class MyNorm") + 1) == std::string::npos);  // once
  // a type that says nothing is refused in one line naming it and where it is
  using Silent = Model<Cfg, Stack<PreLN<B>, 1, PostLN<B, UnexportedNorm>, 1>>;
  CHECK_THROWS_WITH(hf_config<Silent>(256, "float32"),
                    doctest::Contains("layer 1's norm post_attention_layernorm is a norm kind 'UnexportedNorm' "
                                      "that declares no hf_module"));
}
