// mixln/init.hpp — random initialisation (docs/design.md §3.4).
//
// Linears and lm_head: N(0, σ · gain), embeddings N(0, σ_embed · gain), σ = σ_embed = 0.02 by
// default (init_recipe.hpp names others), gain from the placement (DeepNorm's β = (8L)^−¼ on v,
// o, gate, up, down). Norm parameters: their kind's constant (weights 1,
// biases 0, DyT's α α₀). With `scaled_init`, the weights that write into the residual stream
// (o_proj, down_proj) use N(0, σ/√(2L) · gain) (GPT-2 style). Parameter p draws from its own
// counter-based stream, so a value depends only on (seed, parameter index, element index).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "rng.hpp"
#include "schedule/param_layout.hpp"

namespace mixln {

struct InitOptions {
  std::uint64_t seed = 0;
  double std = 0.02;        // linears and lm_head
  double embed_std = 0.02;  // embed_tokens
  bool scaled_init = false;
};

// A named initialisation (`--init NAME`): the standard deviations of InitOptions it sets, each
// a · C^p for the hidden size C (so that a recipe written for one width holds at every width).
struct InitRecipe {
  std::string_view name;
  double std_a, std_p;      // linears and lm_head: std_a · C^std_p
  double embed_a, embed_p;  // embeddings: embed_a · C^embed_p
  bool scaled_init;
  std::string_view what;

  InitOptions options(std::size_t hidden) const {
    const double C = double(hidden);
    return {.std = std_a * std::pow(C, std_p), .embed_std = embed_a * std::pow(C, embed_p), .scaled_init = scaled_init};
  }
};

// "default": mixln's (GPT-2 and Hugging Face LLaMA's initializer_range 0.02 for every matrix).
// "mixln-authors": the Mix-LN authors' `_init_weights` for the paper's runs (pixeli99/MixLN,
//   peft_pretraining/modeling_llama.py): nn.Embedding N(0, √(2/5) ≈ 0.632) at every width,
//   every nn.Linear (lm_head included) N(0, initializer_range = 0.02), norm weights 1; no scaled
//   layers (their NORM_TYPE pre and post_pre, which the paper's scripts run, mark none).
// "hybridnorm": HybridNorm's OLMo configuration (BryceZhuo/HybridNorm, init_fn full_megatron):
//   every matrix N(0, √(2/(5C))) ("small init"), attention and MLP outputs ÷ √(2L) (untruncated
//   here; theirs is cut at 3σ, and their embedding is tied to the head, mixln's is not).
inline constexpr InitRecipe init_recipes[] = {
    {"default", 0.02, 0, 0.02, 0, false, "embeddings, linears, lm_head ~ N(0, 0.02)"},
    {"mixln-authors", 0.02, 0, 0.6324555320336759, 0, false,
     "the Mix-LN authors' code: embeddings ~ N(0, sqrt(2/5)), linears and lm_head ~ N(0, 0.02)"},
    {"hybridnorm", 0.6324555320336759, -0.5, 0.6324555320336759, -0.5, true,
     "HybridNorm's code: every matrix ~ N(0, sqrt(2/(5C))), o_proj and down_proj / sqrt(2L)"},
};

inline const InitRecipe* find_init_recipe(std::string_view name) {
  for (const InitRecipe& r : init_recipes)
    if (r.name == name) return &r;
  return nullptr;
}

template <class T>
void init_params(const ParamLayout& layout, int num_layers, std::span<T> params,
                 const InitOptions& opt) {
  for (std::size_t p = 0; p < layout.params.size(); ++p) {
    const ParamInfo& info = layout.params[p];
    T* dst = params.data() + info.offset;
    if (!info.normal_init) {
      for (std::size_t i = 0; i < info.count; ++i) dst[i] = T(info.init_value);
      continue;
    }
    double std = (info.kind == ParamKind::embedding ? opt.embed_std : opt.std) * info.init_gain;
    if (opt.scaled_init && info.scaled_init) std /= std::sqrt(2.0 * num_layers);
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < info.count; ++i) dst[i] = T(std * normal_at(opt.seed, p, i));
  }
}

}  // namespace mixln
