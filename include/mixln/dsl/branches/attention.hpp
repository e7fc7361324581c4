// mixln/dsl/branches/attention.hpp — LLaMA's causal self-attention as a branch, with the
// norms the field puts inside attention (docs/design.md §8.2).
//
//   qkv = h · [Wq; Wk; Wv]ᵀ                          one [3C, C] GEMM            [R, 3C]
//   q, k (, v) ← N(q), N(k) (, N(v))                 attention norm option, before RoPE
//   q, k ← RoPE(q), RoPE(k)                          θ = 10000, rotate_half
//   o = softmax(q kᵀ / √D + causal mask) v           per head, fused: no [T, T]  [R, C]
//   F(h) = o · Woᵀ
//
// Attention norm options (the second argument of LlamaBlock; RMSNorm, eps 1e-6 by default):
//   QKNorm<PerHead>     per-head QK-norm (Qwen 3, Gemma 3): q_norm, k_norm [head_dim]
//   QKNorm<FullWidth>   full-width QK-norm (OLMo 2): q_norm, k_norm [hidden]
//   QKVNorm<FullWidth>  full-width QKV-norm (HybridNorm): also v_norm [hidden]
// named self_attn.{q,k,v}_norm.weight (and .bias, .alpha for other kinds) as Hugging Face does.
#pragma once

#include <cstddef>
#include <type_traits>

#include "../../math/attention_mask.hpp"
#include "../../math/norm_kinds.hpp"
#include "../../math/norm_rows.hpp"
#include "../../math/row_chunks.hpp"
#include "../branch.hpp"

namespace mixln {

struct PerHead {};    // each head's vector is normalised: weights [head_dim]
struct FullWidth {};  // the whole projection is normalised: weights [hidden]

struct attention_norm_tag {};
struct NoAttentionNorm : attention_norm_tag {
  static constexpr bool enabled = false, norm_v = false, per_head = false;
  using kind = RMSNorm;
  static constexpr const char* name = "none";
  static constexpr const char* block_name = "llama";
};

namespace detail {
template <class Scope, class Kind, bool V>
struct attention_norm : attention_norm_tag {
  static_assert(std::is_same_v<Scope, PerHead> || std::is_same_v<Scope, FullWidth>,
                "QKNorm/QKVNorm: the scope must be PerHead or FullWidth");
  static constexpr bool enabled = true, norm_v = V, per_head = std::is_same_v<Scope, PerHead>;
  using kind = Kind;
  static constexpr const char* name = V ? (per_head ? "qkv_per_head" : "qkv_full_width")
                                        : (per_head ? "qk_per_head" : "qk_full_width");
  static constexpr const char* block_name = V ? (per_head ? "llama+qkv_norm[per_head]" : "llama+qkv_norm[full]")
                                              : (per_head ? "llama+qk_norm[per_head]" : "llama+qk_norm[full]");
};
}  // namespace detail

template <class Scope = PerHead, class Kind = RMSNorm>
struct QKNorm : detail::attention_norm<Scope, Kind, false> {};
template <class Scope = FullWidth, class Kind = RMSNorm>
struct QKVNorm : detail::attention_norm<Scope, Kind, true> {};

template <class T>
inline constexpr bool is_attention_norm_v = std::is_base_of_v<attention_norm_tag, T>;

template <class Cfg, class Norm = NoAttentionNorm>
struct LlamaAttention {
  static_assert(is_attention_norm_v<Norm>,
                "LlamaAttention: the norm option must be NoAttentionNorm, QKNorm<Scope, Kind> or "
                "QKVNorm<Scope, Kind>");
  static constexpr const char* name = "attention";
  static constexpr HfModule hf_module{"MixlnAttention"};  // the export's modeling_mixln.py
  using attention_norm = Norm;
  using NK = typename Norm::kind;
  static constexpr std::size_t C = Cfg::hidden_size, H = Cfg::num_heads, D = Cfg::head_dim;
  static constexpr bool normed = Norm::enabled;
  static constexpr int kNormParams = int(NK::params.size());
  static constexpr std::size_t norm_width = Norm::per_head ? D : C;  // channels of one normalised row
  static constexpr int norm_groups = Norm::per_head ? int(H) : 1;    // normalised rows per token

  enum Weight : int { q, k, v, o, q_norm, k_norm = q_norm + kNormParams, v_norm = k_norm + kNormParams };
  enum Act : int {
    qkv,         // [R, 3C] q | k | v as attention sees them (normalised, RoPE applied); bf16 under bf16
    stats,       // [B, H, T, 2] softmax statistics of each query row (backend_ops.hpp)
    att,         // [R, C] attention output, before o_proj
    rope_cos,    // [T, D/2] shared
    rope_sin,    // [T, D/2] shared
    dqkv,        // [R, 3C] scratch
    datt,        // [R, C] scratch
    delta,       // [B, H, T] scratch: Σ dO·O per row and head
    proj,        // [R, 3C] the projections before the norms        (attention norm only)
    q_stats,     // [R·groups, num_stats] per-row statistics of q_norm, k_norm, v_norm
    k_stats,
    v_stats,
    norm_partials,  // [chunks, params + 1, width] scratch for the norm-weight gradients
  };

  static void weights(WeightList& w) {
    w.linear(q, "self_attn.q_proj.weight", C, C);
    w.linear(k, "self_attn.k_proj.weight", C, C);
    w.linear(v, "self_attn.v_proj.weight", C, C);
    w.linear(o, "self_attn.o_proj.weight", C, C, /*residual_output=*/true);
    if constexpr (normed) {
      w.template norm<NK>(q_norm, "self_attn.q_norm", norm_width);
      w.template norm<NK>(k_norm, "self_attn.k_norm", norm_width);
      if constexpr (Norm::norm_v) w.template norm<NK>(v_norm, "self_attn.v_norm", norm_width);
    }
  }

  static void activations(ActivationList& a, std::size_t B, std::size_t T) {
    const std::size_t R = B * T;
    // q/k/v and the attention output are GEMM operands (bf16 under --precision bf16); with an
    // attention norm, q/k/v and their gradient are also the norms' rows, kept in the scalar.
    constexpr ActivationType qkv_type = normed ? ActivationType::scalar : ActivationType::gemm;
    a.saved(qkv, "qkv", {R, 3 * C}, qkv_type);
    a.saved(stats, "attn_softmax_stats", {B, H, T, 2});
    a.saved(att, "attn_out", {R, C}, ActivationType::gemm);
    a.shared(rope_cos, "rope_cos", {T, D / 2});
    a.shared(rope_sin, "rope_sin", {T, D / 2});
    a.scratch(dqkv, "qkv", {R, 3 * C}, qkv_type);
    a.scratch(datt, "attn_out", {R, C}, ActivationType::gemm);
    a.scratch(delta, "attn_delta", {B, H, T});
    if constexpr (normed) {
      const std::size_t rows = R * norm_groups, S = NK::num_stats > 0 ? NK::num_stats : 1;
      a.saved(proj, "qkv_proj", {R, 3 * C});
      a.saved(q_stats, "q_norm_stats", {rows, S});
      a.saved(k_stats, "k_norm_stats", {rows, S});
      a.saved(v_stats, "v_norm_stats", {Norm::norm_v ? rows : 1, S});
      a.scratch(norm_partials, "qkv_norm_partials",
                {std::size_t(partial_rows(int(rows))), std::size_t(kNormParams + 1), norm_width});
    }
  }

  template <class Backend, class T>
  static void prepare(const BranchIO<T>& io) {
    Backend::rope_tables(io.seq, int(D), io.act[rope_cos], io.act[rope_sin]);
  }

  template <class Backend, class T>
  static void forward(const BranchIO<T>& io) {
    const int R = io.rows(), B = io.batch, Tn = io.seq;
    const ActPtr<T> qkv_out = io.act[qkv];
    if constexpr (normed) {
      T* pr = io.act[proj];
      T* normed_qkv = qkv_out.scalar();
      Backend::linear_forward(io.precision, R, int(3 * C), int(C), io.in, io.w[q], pr);
      norm_segment_forward<Backend>(io, pr, normed_qkv, 0, q_norm, q_stats);
      norm_segment_forward<Backend>(io, pr, normed_qkv, C, k_norm, k_stats);
      if constexpr (Norm::norm_v)
        norm_segment_forward<Backend>(io, pr, normed_qkv, 2 * C, v_norm, v_stats);
      else
        Backend::copy_rows(R, int(C), RowsView<const T>{pr + 2 * C, 1, 3 * C}, RowsView<T>{normed_qkv + 2 * C, 1, 3 * C});
    } else {
      Backend::linear_forward(io.precision, R, int(3 * C), int(C), io.in, io.w[q], qkv_out);
    }
    Backend::rope(false, B, Tn, int(H), int(D), qkv_out, io.act[rope_cos], io.act[rope_sin]);
    Backend::attention_forward(io.precision, AttentionMask::causal, B, Tn, int(H), int(D), qkv_out, io.act[stats], io.act[att]);
    Backend::linear_forward(io.precision, R, int(C), int(C), io.act[att], io.w[o], io.out);
  }

  template <class Backend, class T>
  static void backward(const BranchIO<T>& io) {
    const int R = io.rows(), B = io.batch, Tn = io.seq;
    const ActPtr<T> d_qkv = io.act[dqkv];
    Backend::linear_backward(io.precision, R, int(C), int(C), io.dout, io.act[att], io.w[o], io.act[datt], io.dw[o]);
    Backend::attention_backward(io.precision, AttentionMask::causal, B, Tn, int(H), int(D), io.act[qkv], io.act[att], io.act[stats],
                                io.act[datt], io.act[delta], d_qkv);
    Backend::rope(true, B, Tn, int(H), int(D), d_qkv, io.act[rope_cos], io.act[rope_sin]);
    if constexpr (normed) {  // in place: d_qkv becomes the gradient of the projections
      T* d = d_qkv.scalar();
      norm_segment_backward<Backend>(io, d, 0, q_norm, q_stats);
      norm_segment_backward<Backend>(io, d, C, k_norm, k_stats);
      if constexpr (Norm::norm_v) norm_segment_backward<Backend>(io, d, 2 * C, v_norm, v_stats);
    }
    Backend::linear_backward(io.precision, R, int(3 * C), int(C), d_qkv, io.in, io.w[q], io.din, io.dw[q]);
  }

 private:
  // The rows one norm of the option sees: the columns [col, col + C) of a [R, 3C] buffer.
  template <class T>
  static RowsView<T> segment(T* base, std::size_t col) {
    return {base + col, norm_groups, 3 * C};
  }
  template <class Backend, class T>
  static void norm_segment_forward(const BranchIO<T>& io, const T* pr, T* out, std::size_t col, int w0, int stats) {
    Backend::template norm_rows_forward<NK>(io.rows() * norm_groups, int(norm_width), segment(pr, col),
                                            segment(out, col), io.w + w0, io.act[stats]);
  }
  template <class Backend, class T>
  static void norm_segment_backward(const BranchIO<T>& io, T* d, std::size_t col, int w0, int stats) {
    Backend::template norm_rows_backward<NK>(io.rows() * norm_groups, int(norm_width),
                                             segment<const T>(io.act[proj], col), io.act[stats], io.w + w0,
                                             segment<const T>(d, col), segment(d, col), io.dw + w0,
                                             io.act[norm_partials]);
  }
};

}  // namespace mixln
