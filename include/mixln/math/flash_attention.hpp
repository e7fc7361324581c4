// mixln/math/flash_attention.hpp — fused attention ("flash attention"), causal or without a
// mask (math/attention_mask.hpp): the tiled algorithm, its per-row arithmetic (shared by the CUDA kernels, src/cuda/attention.cu) and a
// CPU twin of the kernels that the tests check against the materialized attention in double.
//
// Layouts (C = H·D, one sequence of T = seq tokens per batch row b):
//   qkv    [B, T, 3C]   q | k | v of each token, RoPE already applied to q and k; head h at
//                       columns h·D (q), C + h·D (k), 2C + h·D (v); row stride 3C
//   out    [B, T, C]    heads side by side (head h at column h·D); row stride C
//   stats  [B, H, T, 2] per query row t of head (b, h): m_t and inv_t (below), kept for backward
//   delta  [B, H, T]    backward scratch: delta_t = Σ_d dO_td · O_td
//   dqkv   [B, T, 3C]   the gradient of qkv, every q, k, v column written (=, not +=)
//
// The math, for one head, scale = 1/√D and scaled scores s_tj = scale · q_t·k_j for j ≤ t (causal;
// without a mask every j < T, and each "j ≤ t" / "t ≥ j" below reads "every j" / "every t"):
//   m_t   = max_{j≤t} s_tj                 inv_t = 1 / Σ_{j≤t} exp(s_tj − m_t)
//   P_tj  = exp(s_tj − m_t) · inv_t        O_t   = Σ_{j≤t} P_tj v_j
// backward, given dO:
//   dV_j  = Σ_{t≥j} P_tj dO_t              dP_tj = dO_t · v_j
//   dS_tj = P_tj (dP_tj − delta_t)         delta_t = Σ_d dO_td O_td  (= Σ_j P_tj dP_tj)
//   dQ_t  = scale · Σ_{j≤t} dS_tj k_j      dK_j  = scale · Σ_{t≥j} dS_tj q_t
//
// Tiling. Query rows are cut into tiles of Br rows, keys into tiles of Bc keys; the last tile of
// each is partial when T is not a multiple. The forward walks, for each query tile, the key
// tiles 0 .. the one holding its last row (causal: key tiles entirely after the query tile are
// never touched; without a mask, every key tile) and keeps per row a running max m, a running sum l of exp(s − m) and an accumulator
// of Σ exp(s − m) v — the online softmax: a new tile's max m' rescales l and the accumulator by
// exp(m − m') (flash_online_update). At the end O = acc / l and the row saves (m, 1/l)
// (flash_finalize). No T×T tensor exists at any point.
// The backward, deterministic (every output element is summed by one owner in a fixed order,
// no atomics): delta first; then for each key tile, dK and dV summed over the query tiles that
// see it (recomputing S and P = exp(s − m)·inv from the saved stats); then for each query tile,
// dQ summed over the key tiles up to its diagonal (every key tile without a mask).
//
// Precision: with bf16 every operand of a product — q, k, v, P, dO, dS — is rounded to bf16
// (nearest even, math/half.hpp) first, the products accumulated in the scalar (fp32): the
// rounding of a bf16 GEMM's inputs. The forward's P operand is the unnormalized exp(s − m_run)
// of the running max (normalized at the end), the backward's the normalized P. Softmax
// statistics (m, l, inv, delta) and every accumulation stay in the scalar. fp32 and tf32 round
// nothing (tf32 is computed as fp32 here).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include "../config.hpp"
#include "../precision.hpp"
#include "attention_mask.hpp"
#include "fast_exp.hpp"
#include "half.hpp"
#include "row.hpp"

namespace mixln {

// --- per-element and per-row arithmetic (host and device) ------------------------------------

// −∞: the score of a masked (causal: j > t) or absent (beyond a partial tile) key.
template <class T>
MIXLN_HD T flash_masked() {
  return -std::numeric_limits<T>::infinity();
}

// An operand of a product: rounded to bf16 and back when bf16, else itself.
MIXLN_HD float flash_operand(float x, bool bf16) { return bf16 ? bf16_to_float(float_to_bf16(x)) : x; }
MIXLN_HD double flash_operand(double x, bool bf16) {
  return bf16 ? double(bf16_to_float(float_to_bf16(float(x)))) : x;
}

// Query row t sees key j: t and j are rows of the sequence (not the padding of a partial last
// tile) and, when causal, j ≤ t.
MIXLN_HD bool flash_live(int t, int j, int seq, bool causal) { return t < seq && j < seq && (!causal || j <= t); }

// The last key tile that the query tile starting at row q0 sees: causal, its last row's key
// tile (key tiles 0 .. this are visited, the ones after it never); else the sequence's last.
MIXLN_HD int flash_last_key_tile(int q0, int Br, int Bc, int seq, bool causal) {
  const int last_row = causal ? (q0 + Br < seq ? q0 + Br : seq) - 1 : seq - 1;
  return last_row / Bc;
}
// The first query tile that sees the key tile starting at key k0: causal, the tile holding row
// k0; else the first.
MIXLN_HD int flash_first_query_tile(int k0, int Br, bool causal) { return causal ? k0 / Br : 0; }

// Whether any of the query rows r0 .. r1 sees a key from k0 on: a warp whose rows see none of a
// tile's keys (or whose keys are all padding) skips the tile (the work would change nothing).
// Rows and keys from seq on are the padding of a partial tile.
MIXLN_HD bool flash_rows_see_keys(int r0, int r1, int k0, int seq, bool causal) {
  return r0 < seq && k0 < seq && (!causal || k0 <= r1);
}

// exp(s − m), 0 for a masked score (s = −∞; fast_exp would give 1.2e-38, not 0).
template <class T>
MIXLN_HD T flash_exp_masked(T s, T m) {
  return s == flash_masked<T>() ? T(0) : T(fast_exp(s - m));
}

// The factor exp(m_old − m_new) that rescales a row's running sum and accumulator when its max
// grows from m_old to m_new; 0 while the row has seen no live key (m_old = −∞, l = acc = 0).
template <class T>
MIXLN_HD T flash_rescale(T m_old, T m_new) {
  return m_old == flash_masked<T>() ? T(0) : T(fast_exp(m_old - m_new));
}

// The online-softmax update of one query row for one key tile. s[j], j < row.n (the tile's keys
// present; a partial tile has fewer): the row's scaled scores, −∞ where masked. In place they
// become the weights p̃_j = exp(s_j − m_new) of the P·V product (rounded to bf16 when bf16; 0
// where masked); m and l (running max and Σ exp(s − m), unrounded) are updated. Returns the
// factor by which the row's accumulator must be rescaled before the tile's p̃·V is added.
template <class Row, class T>
MIXLN_HD T flash_online_update(const Row& row, T* s, T& m, T& l, bool bf16) {
  const T tile_max = row.max([&](int j) { return s[j]; });
  const T m_new = tile_max > m ? tile_max : m;
  const T alpha = flash_rescale(m, m_new);
  const T tile_sum = row.sum([&](int j) {
    const T p = flash_exp_masked(s[j], m_new);
    s[j] = flash_operand(p, bf16);
    return p;
  });
  l = l * alpha + tile_sum;
  m = m_new;
  return alpha;
}

// The saved statistics of one query row: (m, inv = 1/l). O_t = acc · inv.
template <class T>
struct FlashStats {
  T m, inv;
};
template <class T>
MIXLN_HD FlashStats<T> flash_finalize(T m, T l) {
  return {m, T(1) / l};
}

// P_tj recomputed from the saved stats: exp(s − m)·inv, 0 where masked (s = −∞).
template <class T>
MIXLN_HD T flash_prob(T s, T m, T inv) {
  return s == flash_masked<T>() ? T(0) : T(fast_exp(s - m)) * inv;
}

// dS_tj = P_tj (dP_tj − delta_t).
template <class T>
MIXLN_HD T flash_ds(T p, T dp, T delta) {
  return p * (dp - delta);
}

// delta_t = Σ_d dO_td · O_td over one head's row (row.n = D).
template <class Row, class T>
MIXLN_HD T flash_delta_row(const Row& row, const T* dout, const T* out) {
  return row.sum([&](int d) { return dout[d] * out[d]; });
}

// --- the CPU twin of the kernels (host) ----------------------------------------------------------
// Serial over (b, h) and tiles, in the kernels' tile order; every tile is copied into its own
// buffer (rounded there in bf16) as the kernels stage tiles in shared memory.

struct FlashTiles {
  int query = 64;  // Br: query rows per tile
  int key = 64;    // Bc: keys per tile
};

// Which loop visited a (query tile, key tile) pair.
enum class FlashPass { forward, key_value, query };

struct FlashNoVisit {
  void operator()(FlashPass, int, int) const {}
};

// The (query tile, key tile) pairs each pass visits, summed over (b, h).
struct FlashVisits {
  long long forward = 0, key_value = 0, query = 0;
};

namespace detail {

template <class T>
T flash_dot(const T* a, const T* b, int n) {
  T acc = 0;
  for (int d = 0; d < n; ++d) acc += a[d] * b[d];
  return acc;
}

// rows [r0, r0 + n) of a [T, stride] matrix, columns [col, col + D), into tile [n, D], rounded.
template <class T>
void flash_load(T* tile, const T* src, std::size_t stride, int r0, int n, int D, bool bf16) {
  for (int r = 0; r < n; ++r)
    for (int d = 0; d < D; ++d) tile[std::size_t(r) * D + d] = flash_operand(src[std::size_t(r0 + r) * stride + d], bf16);
}

}  // namespace detail

// out, stats from qkv. visit(FlashPass::forward, query_tile, key_tile) for every pair visited
// (once per (b, h)). Returns the visits.
template <class T, Precision P = Precision::fp32, class Visit = FlashNoVisit>
FlashVisits flash_attention_forward(AttentionMask mask, int B, int seq, int H, int D, const T* qkv /* [B, T, 3C] */,
                                    T* stats /* [B, H, T, 2] */, T* out /* [B, T, C] */, FlashTiles tiles = {},
                                    Visit&& visit = {}) {
  constexpr bool bf16 = P == Precision::bf16;
  const bool causal = mask == AttentionMask::causal;
  const int C = H * D, Br = tiles.query, Bc = tiles.key;
  const T scale = T(1) / std::sqrt(T(D));
  FlashVisits visits;
  std::vector<T> q(std::size_t(Br) * D), k(std::size_t(Bc) * D), v(std::size_t(Bc) * D);
  const std::size_t rows = static_cast<std::size_t>(Br);
  std::vector<T> s(rows * Bc), acc(rows * D), m(rows), l(rows);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const T* base = qkv + std::size_t(b) * seq * 3 * C + std::size_t(h) * D;  // head h's q; k at +C, v at +2C
      for (int qt = 0, q0 = 0; q0 < seq; ++qt, q0 += Br) {
        const int qn = std::min(Br, seq - q0);
        detail::flash_load(q.data(), base, 3 * std::size_t(C), q0, qn, D, bf16);  // [Br, D]
        std::fill(acc.begin(), acc.end(), T(0));
        std::fill(m.begin(), m.end(), flash_masked<T>());
        std::fill(l.begin(), l.end(), T(0));
        const int last_kt = flash_last_key_tile(q0, Br, Bc, seq, causal);
        for (int kt = 0; kt <= last_kt; ++kt) {
          const int k0 = kt * Bc, kn = std::min(Bc, seq - k0);
          visit(FlashPass::forward, qt, kt);
          ++visits.forward;
          detail::flash_load(k.data(), base + C, 3 * std::size_t(C), k0, kn, D, bf16);      // [Bc, D]
          detail::flash_load(v.data(), base + 2 * C, 3 * std::size_t(C), k0, kn, D, bf16);  // [Bc, D]
          for (int r = 0; r < qn; ++r) {
            T* sr = s.data() + std::size_t(r) * Bc;  // S row [kn]
            for (int j = 0; j < kn; ++j)
              sr[j] = flash_live(q0 + r, k0 + j, seq, causal)
                          ? detail::flash_dot(&q[std::size_t(r) * D], &k[std::size_t(j) * D], D) * scale
                          : flash_masked<T>();
            const T alpha = flash_online_update(SerialRow{kn}, sr, m[std::size_t(r)], l[std::size_t(r)], bf16);
            T* ar = acc.data() + std::size_t(r) * D;
            for (int d = 0; d < D; ++d) ar[d] *= alpha;
            for (int j = 0; j < kn; ++j)  // acc += p̃ · V
              for (int d = 0; d < D; ++d) ar[d] += sr[j] * v[std::size_t(j) * D + d];
          }
        }
        for (int r = 0; r < qn; ++r) {
          const int t = q0 + r;
          const FlashStats<T> st = flash_finalize(m[std::size_t(r)], l[std::size_t(r)]);
          T* o = out + (std::size_t(b) * seq + t) * C + std::size_t(h) * D;
          for (int d = 0; d < D; ++d) o[d] = acc[std::size_t(r) * D + d] * st.inv;
          T* sp = stats + ((std::size_t(b) * H + h) * seq + t) * 2;
          sp[0] = st.m;
          sp[1] = st.inv;
        }
      }
    }
  return visits;
}

// dqkv (=) from qkv, out, stats, dout; delta [B, H, T] is scratch (left holding delta).
// visit(FlashPass::key_value or ::query, query_tile, key_tile) per pair visited, per (b, h).
template <class T, Precision P = Precision::fp32, class Visit = FlashNoVisit>
FlashVisits flash_attention_backward(AttentionMask mask, int B, int seq, int H, int D, const T* qkv /* [B, T, 3C] */,
                                     const T* out /* [B, T, C] */, const T* stats /* [B, H, T, 2] */,
                                     const T* dout /* [B, T, C] */, T* delta /* [B, H, T] */,
                                     T* dqkv /* [B, T, 3C] */, FlashTiles tiles = {}, Visit&& visit = {}) {
  constexpr bool bf16 = P == Precision::bf16;
  const bool causal = mask == AttentionMask::causal;
  const int C = H * D, Br = tiles.query, Bc = tiles.key;
  const T scale = T(1) / std::sqrt(T(D));
  FlashVisits visits;
  // delta_t = Σ_d dO_td O_td, per head, unrounded
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < seq; ++t)
      for (int h = 0; h < H; ++h) {
        const std::size_t row = (std::size_t(b) * seq + t) * C + std::size_t(h) * D;
        delta[(std::size_t(b) * H + h) * seq + t] = flash_delta_row(SerialRow{D}, dout + row, out + row);
      }
  std::vector<T> q(std::size_t(Br) * D), dO(std::size_t(Br) * D), k(std::size_t(Bc) * D), v(std::size_t(Bc) * D);
  std::vector<T> acc1(std::size_t(std::max(Br, Bc)) * D), acc2(std::size_t(Bc) * D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const T* base = qkv + std::size_t(b) * seq * 3 * C + std::size_t(h) * D;
      T* dbase = dqkv + std::size_t(b) * seq * 3 * C + std::size_t(h) * D;
      const T* obase = dout + std::size_t(b) * seq * C + std::size_t(h) * D;
      const T* st = stats + (std::size_t(b) * H + h) * seq * 2;  // [T, 2]
      const T* dl = delta + (std::size_t(b) * H + h) * seq;      // [T]
      // The row t, key j element: P_tj, or 0 when masked; ds receives dS_tj.
      auto element = [&](int r, int t, int j, T& ds) {
        const T s = detail::flash_dot(&q[std::size_t(r) * D], &k[std::size_t(j) * D], D) * scale;
        const T p = flash_prob(s, st[2 * t], st[2 * t + 1]);
        const T dp = detail::flash_dot(&dO[std::size_t(r) * D], &v[std::size_t(j) * D], D);
        ds = flash_ds(p, dp, dl[t]);
        return p;
      };
      // dK, dV: per key tile, over the query tiles that see it
      for (int kt = 0, k0 = 0; k0 < seq; ++kt, k0 += Bc) {
        const int kn = std::min(Bc, seq - k0);
        detail::flash_load(k.data(), base + C, 3 * std::size_t(C), k0, kn, D, bf16);
        detail::flash_load(v.data(), base + 2 * C, 3 * std::size_t(C), k0, kn, D, bf16);
        T* dk = acc1.data();  // [Bc, D]
        T* dv = acc2.data();  // [Bc, D]
        std::fill(dk, dk + std::size_t(Bc) * D, T(0));
        std::fill(dv, dv + std::size_t(Bc) * D, T(0));
        for (int qt = flash_first_query_tile(k0, Br, causal), q0 = qt * Br; q0 < seq; ++qt, q0 += Br) {
          const int qn = std::min(Br, seq - q0);
          visit(FlashPass::key_value, qt, kt);
          ++visits.key_value;
          detail::flash_load(q.data(), base, 3 * std::size_t(C), q0, qn, D, bf16);
          detail::flash_load(dO.data(), obase, std::size_t(C), q0, qn, D, bf16);
          for (int r = 0; r < qn; ++r)
            for (int j = 0; j < kn; ++j) {
              if (!flash_live(q0 + r, k0 + j, seq, causal)) continue;  // P = dS = 0
              T ds;
              const T p = flash_operand(element(r, q0 + r, j, ds), bf16);
              ds = flash_operand(ds, bf16);
              for (int d = 0; d < D; ++d) {
                dv[std::size_t(j) * D + d] += p * dO[std::size_t(r) * D + d];  // dV_j += P_tj dO_t
                dk[std::size_t(j) * D + d] += ds * q[std::size_t(r) * D + d];  // dK_j += dS_tj q_t
              }
            }
        }
        for (int j = 0; j < kn; ++j)
          for (int d = 0; d < D; ++d) {
            const std::size_t row = std::size_t(k0 + j) * 3 * C;
            dbase[row + C + d] = dk[std::size_t(j) * D + d] * scale;
            dbase[row + 2 * C + d] = dv[std::size_t(j) * D + d];
          }
      }
      // dQ: per query tile, over the key tiles up to its diagonal (causal) or all of them
      for (int qt = 0, q0 = 0; q0 < seq; ++qt, q0 += Br) {
        const int qn = std::min(Br, seq - q0);
        detail::flash_load(q.data(), base, 3 * std::size_t(C), q0, qn, D, bf16);
        detail::flash_load(dO.data(), obase, std::size_t(C), q0, qn, D, bf16);
        T* dq = acc1.data();  // [Br, D]
        std::fill(dq, dq + std::size_t(Br) * D, T(0));
        const int last_kt = flash_last_key_tile(q0, Br, Bc, seq, causal);
        for (int kt = 0; kt <= last_kt; ++kt) {
          const int k0 = kt * Bc, kn = std::min(Bc, seq - k0);
          visit(FlashPass::query, qt, kt);
          ++visits.query;
          detail::flash_load(k.data(), base + C, 3 * std::size_t(C), k0, kn, D, bf16);
          detail::flash_load(v.data(), base + 2 * C, 3 * std::size_t(C), k0, kn, D, bf16);
          for (int r = 0; r < qn; ++r)
            for (int j = 0; j < kn; ++j) {
              if (!flash_live(q0 + r, k0 + j, seq, causal)) continue;
              T ds;
              element(r, q0 + r, j, ds);
              ds = flash_operand(ds, bf16);
              for (int d = 0; d < D; ++d) dq[std::size_t(r) * D + d] += ds * k[std::size_t(j) * D + d];  // dQ_t += dS_tj k_j
            }
        }
        for (int r = 0; r < qn; ++r)
          for (int d = 0; d < D; ++d) dbase[std::size_t(q0 + r) * 3 * C + d] = dq[std::size_t(r) * D + d] * scale;
      }
    }
  return visits;
}

}  // namespace mixln
