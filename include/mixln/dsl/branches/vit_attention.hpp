// mixln/dsl/branches/vit_attention.hpp — a Vision Transformer's self-attention as a branch:
// timm's `Attention` (VisionTransformer, qkv_bias=True), without a mask and without RoPE (a ViT
// adds learned position embeddings to its input instead).
//
//   qkv = h · Wqkvᵀ + bqkv                    one [3C, C] GEMM and its bias   [R, 3C]
//   o = softmax(q kᵀ / √D) v                  per head, every token sees every token  [R, C]
//   F(h) = o · Wprojᵀ + bproj
//
// Weights as timm names them: attn.qkv.weight [3C, C] (q, k, v stacked), attn.qkv.bias [3C],
// attn.proj.weight [C, C], attn.proj.bias [C].
#pragma once

#include <cstddef>

#include "../../math/attention_mask.hpp"
#include "../branch.hpp"

namespace mixln {

template <class Cfg>
struct VitAttention {
  static constexpr const char* name = "vit_attention";
  static constexpr std::size_t C = Cfg::hidden_size, H = Cfg::num_heads, D = Cfg::head_dim;

  enum Weight : int { qkv_weight, qkv_bias, proj_weight, proj_bias };
  enum Act : int {
    qkv,    // [R, 3C] q | k | v with their bias (the scalar: bias_forward adds to it)
    stats,  // [B, H, T, 2] softmax statistics of each query row (backend_ops.hpp)
    att,    // [R, C] attention output, before proj
    dqkv,   // [R, 3C] scratch
    datt,   // [R, C] scratch
    delta,  // [B, H, T] scratch
  };

  static void weights(WeightList& w) {
    w.linear(qkv_weight, "attn.qkv.weight", 3 * C, C);
    w.bias(qkv_bias, "attn.qkv.bias", 3 * C);
    w.linear(proj_weight, "attn.proj.weight", C, C, /*residual_output=*/true);
    w.bias(proj_bias, "attn.proj.bias", C);
  }

  static void activations(ActivationList& a, std::size_t B, std::size_t T) {
    const std::size_t R = B * T;
    a.saved(qkv, "qkv", {R, 3 * C});
    a.saved(stats, "attn_softmax_stats", {B, H, T, 2});
    a.saved(att, "attn_out", {R, C}, ActivationType::gemm);
    a.scratch(dqkv, "qkv", {R, 3 * C});
    a.scratch(datt, "attn_out", {R, C}, ActivationType::gemm);
    a.scratch(delta, "attn_delta", {B, H, T});
  }

  template <class Backend, class T>
  static void forward(const BranchIO<T>& io) {
    const int R = io.rows();
    T* q = io.act[qkv];
    Backend::linear_forward(io.precision, R, int(3 * C), int(C), io.in, io.w[qkv_weight], q);
    Backend::bias_forward(R, int(3 * C), io.w[qkv_bias], q);
    Backend::attention_forward(io.precision, AttentionMask::none, io.batch, io.seq, int(H), int(D), q, io.act[stats],
                               io.act[att]);
    Backend::linear_forward(io.precision, R, int(C), int(C), io.act[att], io.w[proj_weight], io.out);
    Backend::bias_forward(R, int(C), io.w[proj_bias], io.out);
  }

  template <class Backend, class T>
  static void backward(const BranchIO<T>& io) {
    const int R = io.rows();
    T* dq = io.act[dqkv];
    Backend::linear_backward(io.precision, R, int(C), int(C), io.dout, io.act[att], io.w[proj_weight], io.act[datt],
                             io.dw[proj_weight]);
    Backend::bias_backward(R, int(C), io.dout, io.dw[proj_bias]);
    Backend::attention_backward(io.precision, AttentionMask::none, io.batch, io.seq, int(H), int(D), io.act[qkv],
                                io.act[att], io.act[stats], io.act[datt], io.act[delta], dq);
    Backend::linear_backward(io.precision, R, int(3 * C), int(C), dq, io.in, io.w[qkv_weight], io.din,
                             io.dw[qkv_weight]);
    Backend::bias_backward(R, int(3 * C), dq, io.dw[qkv_bias]);
  }
};

}  // namespace mixln
