// mixln/cpu/attention.hpp — RoPE and multi-head attention, causal or without a mask, on the CPU.
//
// Layouts (C = H·D):
//   qkv   [B, T, 3C]   q | k | v of each token; head h occupies columns h·D .. h·D+D of each
//   stats [B, H, T, 2] of each query row: the maximum score m and 1/Σ exp(s − m) (backend_ops.hpp)
//   out   [B, T, C]    heads side by side, ready for o_proj
// Each (b, h) pair is independent and runs on its own thread; its GEMMs see strided views
// (leading dimension 3C or C) and never copy. A block of kQueryBlock score rows at a time is
// materialised in the thread's scratch (slots 5 and 6), never the whole [T, T]: backward
// recomputes the block's scores with the same GEMM and its probabilities from the statistics
// (softmax_recompute_row), the same values bit for bit as the forward's. A causal block's rows
// [t0, t1) see keys [0, t1); without a mask every block sees all T keys. Under
// --precision bf16, qkv, out, dout and dqkv may be stored in bf16 (act_ptr.hpp): they are read as
// GEMM operands as they are, and written rounded once from fp32.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../config.hpp"
#include "../math/attention_mask.hpp"
#include "../math/rope.hpp"
#include "../math/row.hpp"
#include "../math/softmax.hpp"
#include "act_visit.hpp"
#include "aligned_scratch.hpp"
#include "gemm.hpp"

namespace mixln::cpu {

// The largest head dimension a bf16 qkv is rotated for (a stack buffer per head).
inline constexpr int kMaxRopeHeadDim = 512;

// Rotates q and k of every head in place (backward: rotates dq and dk back). qkv's elements E
// are T, or bf16 (act_ptr.hpp): then each head is rotated in fp32 and rounded once.
template <bool Backward, class T, class E>
void rope_apply(int B, int seq, int H, int D, E* qkv, const T* cos_t, const T* sin_t) {
  const int C = H * D, half = D / 2;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < B * seq; ++r) {
    const int t = r % seq;
    E* row = qkv + std::size_t(r) * 3 * C;
    const T* cs = cos_t + std::size_t(t) * half;
    const T* sn = sin_t + std::size_t(t) * half;
    for (int h = 0; h < 2 * H; ++h) {  // q heads, then k heads (they are adjacent)
      T* v = reinterpret_cast<T*>(row + h * D);
      T wide[kMaxRopeHeadDim];
      if constexpr (!std::is_same_v<E, T>) {
        v = wide;
        for (int i = 0; i < D; ++i) wide[i] = T(to_float(row[h * D + i]));
      }
      if constexpr (Backward)
        rope_rotate_backward(v, cs, sn, half);
      else
        rope_rotate(v, cs, sn, half);
      if constexpr (!std::is_same_v<E, T>)
        for (int i = 0; i < D; ++i) row[h * D + i] = from_float<E>(wide[i]);
    }
  }
}

// Attention works on blocks of kQueryBlock query rows: under a causal mask rows [t0, t1) only
// see keys [0, t1), so their GEMMs stop there — about 40% fewer FLOPs than full T×T products at T = 256.
inline constexpr int kQueryBlock = 64;

// The bf16 path's blocks: as many query rows as keep a block of fp32 scores within 64 Ki values
// (256 KiB, in L2), at least kQueryBlock: at T = 256 one block of every row. Each GEMM of the
// bf16 engine has a fixed cost per call (oneDNN), so fewer, larger products win here even though
// a block computes the scores above its diagonal too (measured: small_mixln's attention, batch
// 8 x 256, docs/performance.md).
inline int bf16_query_block(int seq) { return std::max(kQueryBlock, std::min(seq, (1 << 16) / std::max(seq, 1))); }

// --precision bf16: the same blocks and the same products, with every GEMM input rounded to
// bf16 (gemm_bf16.hpp) — but each operand is rounded once per head and used by every block,
// where the per-GEMM path would round K and V again for each query block and dS twice.
// Out: uint16_t (bf16 bits, oneDNN) or float (rounded values, the emulation through sgemm).
// The products and their inputs are those of the per-GEMM path, so the results are too.
template <class Out>
void attention_forward_rounded(AttentionMask mask, int B, int seq, int H, int D, ActPtr<const float> qkv, float* stats,
                               ActPtr<float> out) {
  const int C = H * D;
  const bool causal = mask == AttentionMask::causal;
  const float scale = 1.f / std::sqrt(float(D));
  const int qb = bf16_query_block(seq);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const ActPtr<const float> q = qkv + std::ptrdiff_t(std::size_t(b) * seq * 3 * C + h * D);  // [T, D], ld 3C
      Out* q16 = scratch<Out>(3, std::size_t(3) * seq * D);           // q | k | v, each [T, D] dense
      Out* k16 = q16 + std::size_t(seq) * D;
      Out* v16 = k16 + std::size_t(seq) * D;
      copy_operand(seq, D, q, 3 * C, q16);
      copy_operand(seq, D, q + C, 3 * C, k16);
      copy_operand(seq, D, q + 2 * C, 3 * C, v16);
      Out* p16 = scratch<Out>(4, std::size_t(qb) * seq);
      float* pb = scratch<float>(5, std::size_t(qb) * seq);  // the block's probabilities
      float* st = stats + (std::size_t(b) * H + h) * seq * 2;
      const ActPtr<float> o = out + std::ptrdiff_t(std::size_t(b) * seq * C + h * D);
      for (int t0 = 0; t0 < seq; t0 += qb) {
        const int t1 = std::min(seq, t0 + qb), rows = t1 - t0, keys = causal ? t1 : seq;
        // S = s·Q Kᵀ: the score rows [t0, t1) against keys [0, keys), ld seq
        multiply_rounded<Out>(false, true, rows, keys, D, scale, q16 + std::size_t(t0) * D, k16, 0.f, pb, seq);
        for (int t = t0; t < t1; ++t) {
          float* row = pb + std::size_t(t - t0) * seq;
          const int len = causal ? t + 1 : seq;
          softmax_row_stats(SerialRow{len}, row, len, st + 2 * t, st + 2 * t + 1);
          std::fill(row + len, row + seq, 0.f);
        }
        round_to_bf16_dense(rows, keys, pb, seq, p16);
        multiply_into<Out>(false, false, rows, D, keys, 1.f, p16, v16, o + std::ptrdiff_t(t0) * C, C);  // O = P V
      }
    }
}

// dqkv (=) from dout. dK and dV accumulate over query blocks: in fp32, in dqkv itself when it is
// fp32, else in scratch that is rounded into dqkv once per head.
template <class Out>
void attention_backward_rounded(AttentionMask mask, int B, int seq, int H, int D, ActPtr<const float> qkv,
                                const float* stats, ActPtr<const float> dout, ActPtr<float> dqkv) {
  const int C = H * D;
  const bool causal = mask == AttentionMask::causal;
  const float scale = 1.f / std::sqrt(float(D));
  const int qb = bf16_query_block(seq);
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const std::size_t base = std::size_t(b) * seq * 3 * C + h * D;
      const ActPtr<const float> q = qkv + std::ptrdiff_t(base);
      const bool wide = !dqkv.is_bf16();
      float* dq = wide ? dqkv.scalar() + base : scratch<float>(8, std::size_t(3) * seq * D);
      const int ldd = wide ? 3 * C : D;  // dq, dk, dv: [T, D] with leading dimension ldd
      float* dk = wide ? dq + C : dq + std::size_t(seq) * D;
      float* dv = wide ? dq + 2 * C : dk + std::size_t(seq) * D;
      const float* st = stats + (std::size_t(b) * H + h) * seq * 2;
      float* pb = scratch<float>(5, std::size_t(qb) * seq);   // the block's probabilities
      float* dpb = scratch<float>(6, std::size_t(qb) * seq);  // and their gradient
      Out* q16 = scratch<Out>(3, std::size_t(4) * seq * D);  // q | k | v | dO, each [T, D] dense
      Out* k16 = q16 + std::size_t(seq) * D;
      Out* v16 = k16 + std::size_t(seq) * D;
      Out* do16 = v16 + std::size_t(seq) * D;
      copy_operand(seq, D, q, 3 * C, q16);
      copy_operand(seq, D, q + C, 3 * C, k16);
      copy_operand(seq, D, q + 2 * C, 3 * C, v16);
      copy_operand(seq, D, dout + std::ptrdiff_t(std::size_t(b) * seq * C + h * D), C, do16);
      Out* blk16 = scratch<Out>(4, std::size_t(qb) * seq);  // P, then dS, of a block
      for (int t = 0; t < seq; ++t) {  // dK and dV accumulate over query blocks
        std::fill(dk + std::size_t(t) * ldd, dk + std::size_t(t) * ldd + D, 0.f);
        std::fill(dv + std::size_t(t) * ldd, dv + std::size_t(t) * ldd + D, 0.f);
      }
      for (int t0 = 0; t0 < seq; t0 += qb) {
        const int t1 = std::min(seq, t0 + qb), rows = t1 - t0, keys = causal ? t1 : seq;
        const Out* dOb = do16 + std::size_t(t0) * D;
        // P again: the forward's scores, then its probabilities from the saved statistics
        multiply_rounded<Out>(false, true, rows, keys, D, scale, q16 + std::size_t(t0) * D, k16, 0.f, pb, seq);
        for (int t = t0; t < t1; ++t) {
          float* row = pb + std::size_t(t - t0) * seq;
          const int len = causal ? t + 1 : seq;
          softmax_recompute_row(SerialRow{len}, row, len, st[2 * t], st[2 * t + 1]);
          std::fill(row + len, row + seq, 0.f);
        }
        multiply_rounded<Out>(false, true, rows, keys, D, 1.f, dOb, v16, 0.f, dpb, seq);  // dP = dO Vᵀ
        for (int t = t0; t < t1; ++t) {
          float* row = dpb + std::size_t(t - t0) * seq;
          const int len = causal ? t + 1 : seq;
          softmax_backward_row(SerialRow{len}, pb + std::size_t(t - t0) * seq, row);
          std::fill(row + len, row + seq, 0.f);
        }
        round_to_bf16_dense(rows, keys, pb, seq, blk16);
        multiply_rounded<Out>(true, false, keys, D, rows, 1.f, blk16, dOb, 1.f, dv, ldd);  // dV += Pᵀ dO
        round_to_bf16_dense(rows, keys, dpb, seq, blk16);
        multiply_rounded<Out>(false, false, rows, D, keys, scale, blk16, k16, 0.f, dq + std::size_t(t0) * ldd,
                              ldd);                                                     // dQ = s·dS K
        multiply_rounded<Out>(true, false, keys, D, rows, scale, blk16, q16 + std::size_t(t0) * D, 1.f, dk,
                              ldd);                                                     // dK += s·dSᵀ Q
      }
      if (!wide) {  // dq | dk | dv of this head into dqkv, each rounded once
        bf16_t* d16 = dqkv.bf16() + base;
        round_rows_to_bf16(seq, D, dq, D, d16, 3 * C);
        round_rows_to_bf16(seq, D, dk, D, d16 + C, 3 * C);
        round_rows_to_bf16(seq, D, dv, D, d16 + 2 * C, 3 * C);
      }
    }
}

// The bf16 attention on the engine the process uses for bf16 GEMMs.
inline void attention_forward_bf16(AttentionMask mask, int B, int seq, int H, int D, ActPtr<const float> qkv,
                                   float* stats, ActPtr<float> out) {
  with_bf16_operands([&](auto o) { attention_forward_rounded<decltype(o)>(mask, B, seq, H, D, qkv, stats, out); });
}
inline void attention_backward_bf16(AttentionMask mask, int B, int seq, int H, int D, ActPtr<const float> qkv,
                                    const float* stats, ActPtr<const float> dout, ActPtr<float> dqkv) {
  with_bf16_operands(
      [&](auto o) { attention_backward_rounded<decltype(o)>(mask, B, seq, H, D, qkv, stats, dout, dqkv); });
}

// The op family of cpu::Backend<T> (backend_ops.hpp): RoPE and attention.
template <class T>
struct AttentionOps {
  // cos/sin tables [T, D/2] for positions 0..T-1 (math/rope.hpp).
  static void rope_tables(int seq, int head_dim, T* cos_out, T* sin_out) { mixln::rope_tables(seq, head_dim, cos_out, sin_out); }

  static void rope(bool backward, int B, int seq, int H, int D, ActPtr<T> qkv, const T* cos_t, const T* sin_t) {
    if (qkv.is_bf16() && D > kMaxRopeHeadDim)
      throw std::invalid_argument("rope: a bf16 qkv needs head_dim <= " + std::to_string(kMaxRopeHeadDim));
    visit_act(qkv, [&](auto* x) {
      if (backward)
        rope_apply<true>(B, seq, H, D, x, cos_t, sin_t);
      else
        rope_apply<false>(B, seq, H, D, x, cos_t, sin_t);
    });
  }

  static void attention_forward(Precision p, AttentionMask mask, int B, int seq, int H, int D, ActPtr<const T> qkv_act,
                                T* stats, ActPtr<T> out_act) {
    if constexpr (std::is_same_v<T, float>)
      if (p == Precision::bf16) return attention_forward_bf16(mask, B, seq, H, D, qkv_act, stats, out_act);
    const T* qkv = qkv_act.scalar();
    T* out = out_act.scalar();
    const int C = H * D;
    const bool causal = mask == AttentionMask::causal;
    const T scale = T(1) / std::sqrt(T(D));
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const T* q = qkv + std::size_t(b) * seq * 3 * C + h * D;  // [T, D], ld 3C
        const T* k = q + C;
        const T* v = q + 2 * C;
        T* st = stats + (std::size_t(b) * H + h) * seq * 2;          // [T, 2]
        T* pb = scratch<T>(5, std::size_t(kQueryBlock) * seq);       // [rows, T] a block of P
        T* o = out + std::size_t(b) * seq * C + h * D;                // [T, D], ld C
        for (int t0 = 0; t0 < seq; t0 += kQueryBlock) {
          const int t1 = std::min(seq, t0 + kQueryBlock), rows = t1 - t0, keys = causal ? t1 : seq;
          gemm(false, true, rows, keys, D, scale, q + std::size_t(t0) * 3 * C, 3 * C, k, 3 * C, T(0), pb, seq);
          for (int t = t0; t < t1; ++t) {
            T* row = pb + std::size_t(t - t0) * seq;
            const int len = causal ? t + 1 : seq;
            softmax_row_stats(SerialRow{len}, row, len, st + 2 * t, st + 2 * t + 1);
            std::fill(row + len, row + seq, T(0));
          }
          gemm(false, false, rows, D, keys, T(1), pb, seq, v, 3 * C, T(0), o + std::size_t(t0) * C, C);
        }
      }
  }

  // dqkv [B, T, 3C] (=) from dout [B, T, C]. The CPU recomputes each block's P (with the
  // forward's own GEMM and softmax arithmetic) and needs neither out nor the delta scratch.
  static void attention_backward(Precision p, AttentionMask mask, int B, int seq, int H, int D, ActPtr<const T> qkv_act,
                                 ActPtr<const T> /*out*/, const T* stats, ActPtr<const T> dout_act, T* /*delta*/,
                                 ActPtr<T> dqkv_act) {
    if constexpr (std::is_same_v<T, float>)
      if (p == Precision::bf16) return attention_backward_bf16(mask, B, seq, H, D, qkv_act, stats, dout_act, dqkv_act);
    const T* qkv = qkv_act.scalar();
    const T* dout = dout_act.scalar();
    T* dqkv = dqkv_act.scalar();
    const int C = H * D;
    const bool causal = mask == AttentionMask::causal;
    const T scale = T(1) / std::sqrt(T(D));
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const std::size_t base = std::size_t(b) * seq * 3 * C + h * D;
        const T* q = qkv + base;
        const T* k = q + C;
        const T* v = q + 2 * C;
        T* dq = dqkv + base;
        T* dk = dq + C;
        T* dv = dq + 2 * C;
        const T* st = stats + (std::size_t(b) * H + h) * seq * 2;
        T* pb = scratch<T>(5, std::size_t(kQueryBlock) * seq);   // [rows, T] a block of P
        T* dpb = scratch<T>(6, std::size_t(kQueryBlock) * seq);  // and of dP, then dS
        const T* dO = dout + std::size_t(b) * seq * C + h * D;
        for (int t = 0; t < seq; ++t) {  // dK and dV accumulate over query blocks
          std::fill(dk + std::size_t(t) * 3 * C, dk + std::size_t(t) * 3 * C + D, T(0));
          std::fill(dv + std::size_t(t) * 3 * C, dv + std::size_t(t) * 3 * C + D, T(0));
        }
        for (int t0 = 0; t0 < seq; t0 += kQueryBlock) {
          const int t1 = std::min(seq, t0 + kQueryBlock), rows = t1 - t0, keys = causal ? t1 : seq;
          const T* dOb = dO + std::size_t(t0) * C;
          gemm(false, true, rows, keys, D, scale, q + std::size_t(t0) * 3 * C, 3 * C, k, 3 * C, T(0), pb, seq);  // S
          for (int t = t0; t < t1; ++t) {
            T* row = pb + std::size_t(t - t0) * seq;
            const int len = causal ? t + 1 : seq;
            softmax_recompute_row(SerialRow{len}, row, len, st[2 * t], st[2 * t + 1]);
            std::fill(row + len, row + seq, T(0));
          }
          gemm(false, true, rows, keys, D, T(1), dOb, C, v, 3 * C, T(0), dpb, seq);   // dP = dO Vᵀ
          for (int t = t0; t < t1; ++t) {
            T* row = dpb + std::size_t(t - t0) * seq;
            const int len = causal ? t + 1 : seq;
            softmax_backward_row(SerialRow{len}, pb + std::size_t(t - t0) * seq, row);
            std::fill(row + len, row + seq, T(0));
          }
          gemm(true, false, keys, D, rows, T(1), pb, seq, dOb, C, T(1), dv, 3 * C);     // dV += Pᵀ dO
          gemm(false, false, rows, D, keys, scale, dpb, seq, k, 3 * C, T(0),
               dq + std::size_t(t0) * 3 * C, 3 * C);                                    // dQ = s·dS K
          gemm(true, false, keys, D, rows, scale, dpb, seq, q + std::size_t(t0) * 3 * C, 3 * C, T(1), dk,
               3 * C);                                                                  // dK += s·dSᵀ Q
        }
      }
  }
};

}  // namespace mixln::cpu
