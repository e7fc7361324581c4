// examples/configs.hpp — the model configurations of docs/design.md §6.4, each with the six
// placements the paper compares and the models of §8.4. A trainer is
// `<config>::<placement>`, e.g. tiny::mixln, tiny::hybridnorm.
#pragma once

#include <mixln/mixln.hpp>

#include "gelu_block.hpp"

namespace mixln::examples {

// The placements of one configuration of L layers (Mix-LN with α = Alpha): the paper's six,
// then those compared since (docs/design.md §8).
template <class Cfg, int L, class Alpha = std::ratio<1, 4>>
struct Placements {
  static constexpr TrainDefaults defaults{};  // no defaults: give --steps --batch --seq --lr
  using Block = LlamaBlock<Cfg>;
  using preln = Model<Cfg, Stack<PreLN<Block>, L>>;
  using postln = Model<Cfg, Stack<PostLN<Block>, L>>;
  using mixln = Model<Cfg, MixLN<Block, L, Alpha>>;
  using deepnorm = Model<Cfg, Stack<DeepNorm<Block>, L>>;
  using sandwich = Model<Cfg, Stack<SandwichLN<Block>, L>>;
  using lns = Model<Cfg, Stack<LNS<Block>, L>>;

  using periln = Model<Cfg, Stack<PeriLN<Block>, L>>;
  using olmo2 = Model<Cfg, Stack<OLMo2<LlamaBlock<Cfg, QKNorm<FullWidth>>>, L>>;
  using hybridnorm = Model<Cfg, Stack<HybridNorm<LlamaBlock<Cfg, QKVNorm<FullWidth>>>, L>>;
  using dyt = Model<Cfg, Stack<PreLN<Block, DyT<>>, L>, DyT<>>;
  // The recipes as their authors' code runs them (docs/dsl.md, "Recipes"): HybridNorm's q, k, v
  // norms per head; HybridNorm*: its first block Pre-Norm (with the QKV-norm); DyT's LLaMA α₀
  // (0.8 before attention, 0.2 before the MLP and at the end: the narrowest model of its table)
  // and its embedding scalar (√C at init); Peri-LN with its optional embedding norm.
  using hybridnorm_head = Model<Cfg, Stack<HybridNorm<LlamaBlock<Cfg, QKVNorm<PerHead>>>, L>>;
  using hybridnorm_star = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg, QKVNorm<PerHead>>>, 1,
                                           HybridNorm<LlamaBlock<Cfg, QKVNorm<PerHead>>>, L - 1>>;
  using dyt_llama = Model<Cfg, Stack<PreLN<Block, DyT<std::ratio<4, 5>>, DyT<std::ratio<1, 5>>>, L>,
                          DyT<std::ratio<1, 5>>, ScaledEmbedding>;
  using periln_embnorm = Model<Cfg, Stack<PeriLN<Block>, L>, RMSNorm, NormedEmbedding<RMSNorm>>;
  using layernorm_mixln = Model<Cfg, MixLN<Block, L, Alpha, LayerNorm>, LayerNorm>;
  using qknorm_mixln = Model<Cfg, MixLN<LlamaBlock<Cfg, QKNorm<PerHead>>, L, Alpha>>;
  using gelu_mixln = Model<Cfg, MixLN<gelu::GeluBlock<Cfg>, L, Alpha>>;
};

// Tests: vocab 512, hidden 64, intermediate 172, heads 4, 8 layers.
using tiny = Placements<LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>, 8>;
// CPU runs and benchmarks: vocab 4096, hidden 256, intermediate 688, heads 4, 8 layers; with
// the α sweep of the paper's Table 7 (α = 0 and 1 are preln and postln).
struct small : Placements<LlamaConfig<vocab<4096>, hidden<256>, intermediate<688>, heads<4>>, 8> {
  using mixln_a1_8 = Model<Block::config, MixLN<Block, 8, std::ratio<1, 8>>>;
  using mixln_a3_8 = Model<Block::config, MixLN<Block, 8, std::ratio<3, 8>>>;
  using mixln_a1_2 = Model<Block::config, MixLN<Block, 8, std::ratio<1, 2>>>;
};

// Deep and narrow, for the study of depth on a CPU (scripts/study/study.sh): the `small` vocabulary,
// hidden 128, head dim 64 (as in the paper's configurations: 2 heads), intermediate 344
// (≈ 8/3 × hidden, as small's 688 for 256), 24 or 48 layers. A step of deep24 costs about what a
// step of small does (the same weight FLOPs per token within 30%), so a 1M-token run takes
// minutes on 2 cores; deep24 has the α sweep too (⌊24α⌋ Post-LN layers: 3, 6, 9, 12).
using DeepCfg = LlamaConfig<vocab<4096>, hidden<128>, intermediate<344>, heads<2>>;
struct deep24 : Placements<DeepCfg, 24> {
  using mixln_a1_8 = Model<DeepCfg, MixLN<Block, 24, std::ratio<1, 8>>>;
  using mixln_a3_8 = Model<DeepCfg, MixLN<Block, 24, std::ratio<3, 8>>>;
  using mixln_a1_2 = Model<DeepCfg, MixLN<Block, 24, std::ratio<1, 2>>>;
};
using deep48 = Placements<DeepCfg, 48>;
// deep24's depth and vocabulary at llama71m's width (hidden 512, 8 heads of 64, intermediate 1368):
// the width a CPU cannot afford for the study's 1M tokens a run; its runs are made on a GPU
// (scripts/gpu/gpu_wide24.sh, the plan scripts/study/wide24_plan.txt).
using wide24 = Placements<LlamaConfig<vocab<4096>, hidden<512>, intermediate<1368>, heads<8>>, 24>;

// The paper's configurations (docs/design.md §5: Table 9 and the authors' scripts), with
// their hyper-parameters as the trainers' defaults: sequence 256, a global batch of 512
// sequences (micro-batch × --accum), warm-up 10%, cosine to 10%.
struct llama71m : Placements<LlamaConfig<vocab<32000>, hidden<512>, intermediate<1368>, heads<8>>, 12> {
  static constexpr TrainDefaults defaults{.steps = 10000, .batch = 32, .seq = 256, .accum = 16, .lr = 1e-3};
};
struct llama130m : Placements<LlamaConfig<vocab<32000>, hidden<768>, intermediate<2048>, heads<12>>, 12> {
  static constexpr TrainDefaults defaults{.steps = 20000, .batch = 32, .seq = 256, .accum = 16, .lr = 1e-3};
};
struct llama250m : Placements<LlamaConfig<vocab<32000>, hidden<768>, intermediate<2560>, heads<16>>, 24> {
  static constexpr TrainDefaults defaults{.steps = 40000, .batch = 32, .seq = 256, .accum = 16, .lr = 1e-3};
};
struct llama1b : Placements<LlamaConfig<vocab<32000>, hidden<2048>, intermediate<5461>, heads<32>>, 24> {
  static constexpr TrainDefaults defaults{.steps = 100000, .batch = 8, .seq = 256, .accum = 64, .lr = 5e-4};
};
// LLaMA-7B uses α = 1/16 (2 Post-LN layers of 32), as the paper does for stability.
struct llama7b : Placements<LlamaConfig<vocab<32000>, hidden<4096>, intermediate<11008>, heads<32>>, 32,
                            std::ratio<1, 16>> {
  static constexpr TrainDefaults defaults{.steps = 13000, .batch = 4, .seq = 256, .accum = 128, .lr = 5e-4};
};

// Vision Transformers (docs/design.md §2.4). The paper's Table 6 compares Pre-LN and Mix-LN
// (α = 1/4) on ViT-Tiny and ViT-Small; vit_tiny has ViT-Tiny's shape (hidden 192, 3 heads of
// 64, MLP 768, 12 layers, LayerNorm) on Fashion-MNIST's 28×28 grey images in 4×4 patches
// (49 patches + the class token), 10 classes. The norm placement is the same line as a LLaMA's.
template <class Cfg, int L, class Input, class Head, class Alpha = std::ratio<1, 4>>
struct VitPlacements {
  using Block = VitBlock<Cfg>;
  using preln = Model<Cfg, Stack<PreLN<Block, LayerNorm>, L>, LayerNorm, PlainEmbedding, Input, Head>;
  using postln = Model<Cfg, Stack<PostLN<Block, LayerNorm>, L>, LayerNorm, PlainEmbedding, Input, Head>;
  using mixln = Model<Cfg, MixLN<Block, L, Alpha, LayerNorm>, LayerNorm, PlainEmbedding, Input, Head>;
};
using VitTinyCfg = LlamaConfig<hidden<192>, intermediate<768>, heads<3>>;
struct vit_tiny : VitPlacements<VitTinyCfg, 12, PatchEmbedding<VitTinyCfg, image<28>, patch<4>, channels<1>>,
                                ClassHead<VitTinyCfg, classes<10>>> {
  static constexpr TrainDefaults defaults{.steps = 0, .batch = 64, .seq = 50, .accum = 1, .lr = 1e-3};
};
// vit_mini: the same depth (12 layers: Mix-LN's 3 Post-LN + 9 Pre-LN) at a width and patch size
// the CPU affords (hidden 96, 3 heads of 32, MLP 384; 7×7 patches: 16 + 1 rows).
using VitMiniCfg = LlamaConfig<hidden<96>, intermediate<384>, heads<3>>;
struct vit_mini : VitPlacements<VitMiniCfg, 12, PatchEmbedding<VitMiniCfg, image<28>, patch<7>, channels<1>>,
                                ClassHead<VitMiniCfg, classes<10>>> {
  static constexpr TrainDefaults defaults{.steps = 0, .batch = 64, .seq = 17, .accum = 1, .lr = 1e-3};
};

}  // namespace mixln::examples
