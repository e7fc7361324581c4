// mixln/dsl/llama_block.hpp — one LLaMA transformer layer without its norms.
//
// A block owns the two branches F of a layer — causal self-attention (sub-layer 0) and the
// SwiGLU MLP (sub-layer 1) — and their linear weights. Where the norms go is not the block's
// business: a placement (dsl/placement.hpp) wraps the block and names them.
#pragma once

#include <array>
#include <cstddef>

#include "llama_config.hpp"

namespace mixln {

// One weight matrix of a layer: its name after `model.layers.{i}.`, stored [rows, cols] =
// [out, in] as PyTorch's nn.Linear does.
struct LinearSpec {
  const char* name;
  std::size_t rows, cols;
};

struct block_tag {};

template <class Cfg>
struct LlamaBlock : block_tag {
  static_assert(is_llama_config_v<Cfg>,
                "LlamaBlock: the argument must be a LlamaConfig<vocab<V>, hidden<H>, "
                "intermediate<I>, heads<N>>");
  using config = Cfg;
  static constexpr std::size_t C = Cfg::hidden_size, I = Cfg::intermediate_size;

  // Order matters: q, k, v are adjacent so that one [3C, C] GEMM projects all three, and
  // gate, up are adjacent for one [2I, C] GEMM.
  static constexpr std::array<LinearSpec, 7> linears = {{
      {"self_attn.q_proj.weight", C, C},
      {"self_attn.k_proj.weight", C, C},
      {"self_attn.v_proj.weight", C, C},
      {"self_attn.o_proj.weight", C, C},
      {"mlp.gate_proj.weight", I, C},
      {"mlp.up_proj.weight", I, C},
      {"mlp.down_proj.weight", C, I},
  }};
  enum Linear : int { q = 0, k, v, o, gate, up, down };

  static constexpr std::size_t linear_params = 4 * C * C + 3 * I * C;
};

template <class T>
inline constexpr bool is_block_v = std::is_base_of_v<block_tag, T>;

}  // namespace mixln
