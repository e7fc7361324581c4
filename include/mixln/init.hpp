// mixln/init.hpp — random initialisation (docs/design.md §3.4).
//
// Embeddings, linears and lm_head: N(0, 0.02 · gain), gain from the placement (DeepNorm's
// β = (8L)^−¼ on v, o, gate, up, down). Norm parameters: their kind's constant (weights 1,
// biases 0, DyT's α α₀). With `scaled_init`, the weights that write into the residual stream
// (o_proj, down_proj) use N(0, 0.02/√(2L) · gain) (GPT-2 style). Parameter p draws from its own
// counter-based stream, so a value depends only on (seed, parameter index, element index).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "rng.hpp"
#include "schedule/param_layout.hpp"

namespace mixln {

struct InitOptions {
  std::uint64_t seed = 0;
  double std = 0.02;
  bool scaled_init = false;
};

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
    double std = opt.std * info.init_gain;
    if (opt.scaled_init && info.scaled_init) std /= std::sqrt(2.0 * num_layers);
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < info.count; ++i) dst[i] = T(std * normal_at(opt.seed, p, i));
  }
}

}  // namespace mixln
