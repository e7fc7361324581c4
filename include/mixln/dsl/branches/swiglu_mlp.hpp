// mixln/dsl/branches/swiglu_mlp.hpp — LLaMA's SwiGLU MLP as a branch.
//
//   [g | u] = h · [Wgate; Wup]ᵀ       one [2I, C] GEMM     [R, 2I]
//   a = silu(g) ⊙ u                                         [R, I]
//   F(h) = a · Wdownᵀ                                       [R, C]
#pragma once

#include <cstddef>

#include "../branch.hpp"

namespace mixln {

template <class Cfg>
struct SwiGLUMLP {
  static constexpr const char* name = "swiglu_mlp";
  static constexpr HfModule hf_module{"MixlnSwiGLU"};  // the export's modeling_mixln.py
  static constexpr std::size_t C = Cfg::hidden_size, I = Cfg::intermediate_size;

  enum Weight : int { gate, up, down };
  enum Act : int { gate_up, act, dgate_up, dact };

  static void weights(WeightList& w) {
    w.linear(gate, "mlp.gate_proj.weight", I, C);  // gate and up adjacent: one [2I, C] GEMM
    w.linear(up, "mlp.up_proj.weight", I, C);
    w.linear(down, "mlp.down_proj.weight", C, I, /*residual_output=*/true);
  }

  static void activations(ActivationList& a, std::size_t B, std::size_t T) {
    const std::size_t R = B * T;
    // All four are GEMM inputs or outputs: bf16 under --precision bf16 (act_ptr.hpp).
    a.saved(gate_up, "gate_up", {R, 2 * I}, ActivationType::gemm);
    a.saved(act, "swiglu", {R, I}, ActivationType::gemm);
    a.scratch(dgate_up, "gate_up", {R, 2 * I}, ActivationType::gemm);
    a.scratch(dact, "swiglu", {R, I}, ActivationType::gemm);
  }

  template <class Backend, class T>
  static void forward(const BranchIO<T>& io) {
    const int R = io.rows();
    Backend::linear_forward(io.precision, R, int(2 * I), int(C), io.in, io.w[gate], io.act[gate_up]);
    Backend::swiglu_forward(R, int(I), io.act[gate_up], io.act[act]);
    Backend::linear_forward(io.precision, R, int(C), int(I), io.act[act], io.w[down], io.out);
  }

  template <class Backend, class T>
  static void backward(const BranchIO<T>& io) {
    const int R = io.rows();
    Backend::linear_backward(io.precision, R, int(C), int(I), io.dout, io.act[act], io.w[down], io.act[dact], io.dw[down]);
    Backend::swiglu_backward(R, int(I), io.act[gate_up], io.act[dact], io.act[dgate_up]);
    Backend::linear_backward(io.precision, R, int(2 * I), int(C), io.act[dgate_up], io.in, io.w[gate], io.din, io.dw[gate]);
  }
};

}  // namespace mixln
