// src/cuda/attention.cu — fused attention, causal or without a mask, on CUDA: cuda::Backend::attention_forward and
// attention_backward, without any T×T tensor in memory. The algorithm, its arithmetic and its
// CPU twin are math/flash_attention.hpp (the tests check the twin against the materialized
// attention in double); this file only moves data and maps threads: every score mask, online-
// softmax update, rescale, finalize, P recomputation, dS element, delta and bf16 rounding is a
// MIXLN_HD function of that header. The sums are the twin's terms in another order (fmaf, and
// quad and warp butterflies where the twin adds serially), so the two agree to rounding, not
// bit for bit.
//
// Layouts (C = H·D): qkv [B, T, 3C] (row stride 3C; head h: q at h·D, k at C + h·D, v at
// 2C + h·D), out and dout [B, T, C] (row stride C), stats [B, H, T, 2] = (m, inv) per query row,
// delta [B, H, T], dqkv [B, T, 3C] (every q, k, v column written with =).
//
// Tiling. Square tiles of Bt query rows and Bt keys (Bt = 64 for D ≤ 32, 32 for D = 64, 128:
// FlashConfig), the last one partial when T is not a multiple of Bt (its missing rows are
// zero-filled in shared memory and masked: flash_live). A block of 4·Bt threads works on one
// (b, h) and one tile; a quad of 4 consecutive lanes shares one row of the tile: lane `sub`
// computes the tile's scores of its row against keys j = sub + 4i and owns columns
// d = sub + 4i of its row's accumulator (D/4 registers). A row's max and sum go through the
// quad's shuffles (QuadRow, the executor flash_online_update runs on, as the CPU runs it on a
// SerialRow), in a fixed order.
//
// Launches, all on compute_stream() (the tile ranges below are a causal mask's; without a mask
// every block visits every tile: flash_last_key_tile, flash_first_query_tile):
//   forward      one kernel; grid (B·H, T/Bt): block = one query tile; key tiles 0 .. the
//                diagonal (later ones never touched), online softmax; writes out and stats.
//                The longest query tiles (the last ones) are issued first.
//   backward     three kernels: delta (one warp per row and head), dK/dV (grid (B·H, T/Bt):
//                block = one key tile, owning its dK, dV rows, summed over the query tiles
//                diagonal .. last, recomputing S and P = exp(s − m)·inv from the stats), then dQ
//                (block = one query tile, owning its dQ rows, summed over key tiles 0 ..
//                diagonal). Deterministic: every output element has one owning thread that sums
//                its terms in a fixed order (tiles in order, rows in order within a tile), the
//                quad and warp reductions are fixed butterflies; no atomics anywhere.
//
// Shared memory (dynamic; floats, rows padded to D + 1 and Bt + 1 so that the quads' column
// reads and the rows' strided reads fall on distinct banks):
//   forward  q, k, v tiles [Bt, D+1] + scores [Bt, Bt+1]
//   dK/dV    k, v, q, dO tiles + P and dS [Bt, Bt+1] + m, inv, delta [Bt]
//   dQ       q, dO, k, v tiles + dS [Bt, Bt+1]
// in bytes (fwd / dK,dV / dQ): D = 8: 23552 / 43264 / 25856, 16: 29696 / 51456 / 34048,
// 32: 41984 / 67840 / 50432, 64: 29184 / 42112 / 37504, 128: 53760 / 74880 / 70272 — above
// 48 KiB the kernel is given cudaFuncAttributeMaxDynamicSharedMemorySize (sm_80 allows 163 KiB).
//
// Precision: with bf16, q, k, v, dO are rounded to bf16 when staged in shared memory, P and dS
// when stored for their products (flash_operand, math/half.hpp's nearest-even rounding, the
// bits of __float2bfloat16_rn); sums in fp32 FMA. fp32 and tf32: no rounding (SIMT fp32).
//
// Tensor cores: with Precision::bf16 and head dims 64, 128 on an sm_80+ device, the forward and
// the dK/dV and dQ kernels are instead the mma.sync m16n8k16 bf16 kernels of attention_mma.cuh
// (same layouts, contract, roundings and determinism; delta stays the kernel below). Their bodies
// are templates over an executor, run on the CPU by tests/test_attention_mma.cpp's emulator.
//
// Executor: every kernel body below is a template over the executor of attention_exec.cuh (thread
// and block ids, sync, sync_warp, shfl_xor), with a thin __global__ wrapper on DeviceExec; outside
// `#if defined(__CUDACC__)` this file compiles with the host compiler, and
// tests/test_attention_simt.cpp runs the bodies on the CPU (tests/attention_emulator.hpp).
//
// Status: compiled for sm_80 and sm_90 (no stack frame, no spills), never run on a GPU — as the
// rest of the CUDA backend (docs/cuda.md); SIMT and tensor-core kernels are emulated on the CPU.
#include <cmath>
#include <cstddef>

#include "mixln/math/flash_attention.hpp"
#include "attention_exec.cuh"

#if defined(__CUDACC__)
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "check.cuh"
#include "mixln/cuda/backend.hpp"
#include "mixln/cuda/stream.cuh"
#include "mixln/error.hpp"
#include "attention_mma.cuh"
#endif

namespace mixln::cuda {

namespace {

using attention_exec::fma_f;
using attention_exec::fmax_f;
using attention_exec::imin;

template <int D>
struct FlashConfig {
  static constexpr int kTile = D <= 32 ? 64 : 32;  // Bt: query rows and keys per tile
  static constexpr int kThreads = 4 * kTile;      // a quad per row of the tile
  static constexpr int kCols = D / 4;             // accumulator columns per thread: d = sub + 4i
  static constexpr int kKeys = kTile / 4;         // scores per thread per tile: j = sub + 4i
  static constexpr int kLd = D + 1;               // padded row stride of the q, k, v, dO tiles
  static constexpr int kLs = kTile + 1;           // padded row stride of the score tiles
  static constexpr std::size_t kTileFloats = std::size_t(kTile) * kLd;
  static constexpr std::size_t kScoreFloats = std::size_t(kTile) * kLs;
  static constexpr std::size_t forward_smem = (3 * kTileFloats + kScoreFloats) * sizeof(float);
  static constexpr std::size_t kv_smem = (4 * kTileFloats + 2 * kScoreFloats + 3 * kTile) * sizeof(float);
  static constexpr std::size_t q_smem = (4 * kTileFloats + kScoreFloats) * sizeof(float);
  static_assert(D % 4 == 0 && kTile % 4 == 0, "a quad splits the columns and the keys");
};

// Every tile kernel is __launch_bounds__(threads, 1): with the thread count alone, ptxas (CUDA
// 13) held some instantiations (forward and dQ at D = 64, sm_80) to 64 registers and spilled
// 16–24 bytes; with a minimum of one block per SM none spills (96–172 registers).

// The row executor of math/row.hpp for a row shared by the 4 lanes of a quad: lane `sub`
// visits j = sub, sub + 4, ...; sums and maxima combine the lanes by two xor shuffles of the
// executor (the same result, bitwise, on the four lanes: a + b is commutative). Every lane of
// the warp must call sum and max (full-warp shuffles); the loops before them may be empty.
// (sum, max, each: what flash_online_update uses of math/row.hpp's interface.)
template <class Ex>
struct QuadRow {
  Ex& ex;
  int n, sub;

  template <class F>
  MIXLN_EXEC_FN float sum(F&& f) const {
    float acc = 0.f;
    for (int j = sub; j < n; j += 4) acc += f(j);
    acc += ex.shfl_xor(acc, 1);
    acc += ex.shfl_xor(acc, 2);
    return acc;
  }
  template <class F>
  MIXLN_EXEC_FN float max(F&& f) const {
    float m = flash_masked<float>();
    for (int j = sub; j < n; j += 4) m = fmax_f(m, f(j));
    m = fmax_f(m, ex.shfl_xor(m, 1));
    m = fmax_f(m, ex.shfl_xor(m, 2));
    return m;
  }
  template <class F>
  MIXLN_EXEC_FN void each(F&& f) const {
    for (int j = sub; j < n; j += 4) f(j);
  }
};

// The same over the 32 lanes of a warp (delta: one warp per row and head; sum only).
template <class Ex>
struct WarpRow {
  Ex& ex;
  int n, lane;

  template <class F>
  MIXLN_EXEC_FN float sum(F&& f) const {
    float acc = 0.f;
    for (int j = lane; j < n; j += 32) acc += f(j);
    MIXLN_UNROLL
    for (int o = 16; o > 0; o >>= 1) acc += ex.shfl_xor(acc, o);
    return acc;
  }
};

// Rows [r0, r0 + n) of a matrix of row stride `stride` (columns [0, D) from src), into the
// shared tile dst [Rows, D + 1]; rows n .. Rows zero. Rounded to bf16 when bf16. Consecutive
// threads (tid) read consecutive columns.
template <int D, int Rows, int Threads>
MIXLN_EXEC_FN void load_tile(int tid, float* dst, const float* __restrict__ src, std::size_t stride, int r0, int n,
                             bool bf16) {
  for (int e = tid; e < Rows * D; e += Threads) {
    const int r = e / D, d = e % D;
    const float x = r < n ? src[std::size_t(r0 + r) * stride + d] : 0.f;
    dst[r * (D + 1) + d] = flash_operand(x, bf16);
  }
}

// --- forward: one block per (b·H + h, query tile) -------------------------------------------
template <int D, class Ex>
MIXLN_EXEC_FN void flash_forward(Ex& ex, float* smem, int seq, int H, float scale, bool bf16, bool causal,
                                 const float* __restrict__ qkv, float* __restrict__ stats, float* __restrict__ out) {
  using Cfg = FlashConfig<D>;
  constexpr int Bt = Cfg::kTile, LD = Cfg::kLd, LS = Cfg::kLs;
  float* sQ = smem;                   // [Bt, D+1] this block's query rows
  float* sK = sQ + Cfg::kTileFloats;  // [Bt, D+1] the current key tile
  float* sV = sK + Cfg::kTileFloats;  // [Bt, D+1]
  float* sS = sV + Cfg::kTileFloats;  // [Bt, Bt+1] scores, then p̃

  const int tid = ex.thread();
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int qt = ex.grid_y() - 1 - ex.block_y();  // the longest tiles first
  const int q0 = qt * Bt, qn = imin(Bt, seq - q0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;  // q; k at +C, v at +2C
  const int r = tid >> 2, sub = tid & 3, t = q0 + r;

  load_tile<D, Bt, Cfg::kThreads>(tid, sQ, base, ld, q0, qn, bf16);
  float acc[Cfg::kCols];
  MIXLN_UNROLL
  for (int c = 0; c < Cfg::kCols; ++c) acc[c] = 0.f;
  float m = flash_masked<float>(), l = 0.f;
  float* srow = sS + r * LS;

  const int last_kt = flash_last_key_tile(q0, Bt, Bt, seq, causal);  // block-uniform: every thread loops alike
  for (int kt = 0; kt <= last_kt; ++kt) {
    const int k0 = kt * Bt, kn = imin(Bt, seq - k0);
    ex.sync();  // the previous tile's sK, sV are read
    load_tile<D, Bt, Cfg::kThreads>(tid, sK, base + C, ld, k0, kn, bf16);
    load_tile<D, Bt, Cfg::kThreads>(tid, sV, base + 2 * C, ld, k0, kn, bf16);
    ex.sync();  // sQ (first pass), sK, sV are in place
    // scores of row r against keys j = sub + 4i
    float s[Cfg::kKeys];
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) s[i] = 0.f;
    MIXLN_UNROLL4
    for (int d = 0; d < D; ++d) {
      const float qd = sQ[r * LD + d];
      MIXLN_UNROLL
      for (int i = 0; i < Cfg::kKeys; ++i) s[i] = fma_f(qd, sK[(sub + 4 * i) * LD + d], s[i]);
    }
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) {
      const int j = sub + 4 * i;
      srow[j] = flash_live(t, k0 + j, seq, causal) ? s[i] * scale : flash_masked<float>();
    }
    // the quad's lanes read and write only their own j here; every lane of the warp takes part
    const float alpha = flash_online_update(QuadRow<Ex>{ex, kn, sub}, srow, m, l, bf16);
    ex.sync_warp();  // the quad's p̃ of row r, written by its 4 lanes, visible to all 4
    MIXLN_UNROLL
    for (int c = 0; c < Cfg::kCols; ++c) acc[c] *= alpha;
    for (int j = 0; j < kn; ++j) {
      const float p = srow[j];
      MIXLN_UNROLL
      for (int c = 0; c < Cfg::kCols; ++c) acc[c] = fma_f(p, sV[j * LD + sub + 4 * c], acc[c]);
    }
  }
  if (t < seq) {  // padding rows of a partial tile (no live key: l = 0) store nothing
    const FlashStats<float> st = flash_finalize(m, l);
    float* o = out + (std::size_t(b) * seq + t) * C + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int c = 0; c < Cfg::kCols; ++c) o[sub + 4 * c] = acc[c] * st.inv;
    if (sub == 0) {
      float* sp = stats + ((std::size_t(b) * H + h) * seq + t) * 2;
      sp[0] = st.m;
      sp[1] = st.inv;
    }
  }
}

// --- backward 1: delta_t = Σ_d dO_td O_td, one warp per (row, head) -------------------------------
constexpr int kDeltaThreads = 256;

template <class Ex>
MIXLN_EXEC_FN void flash_delta(Ex& ex, int rows, int seq, int H, int D, const float* __restrict__ dout,
                               const float* __restrict__ out, float* __restrict__ delta) {
  const int tid = ex.thread();
  const long long w = (long long)ex.block_x() * (kDeltaThreads / 32) + (tid >> 5);
  if (w >= (long long)rows * H) return;  // warp-uniform: the whole warp leaves together
  const int row = int(w / H), h = int(w % H), b = row / seq, t = row % seq;
  const std::size_t off = std::size_t(row) * H * D + std::size_t(h) * D;
  const float d = flash_delta_row(WarpRow<Ex>{ex, D, tid & 31}, dout + off, out + off);
  if ((tid & 31) == 0) delta[(std::size_t(b) * H + h) * seq + t] = d;
}

// --- backward 2: dK, dV — one block per (b·H + h, key tile) -----------------------------------
template <int D, class Ex>
MIXLN_EXEC_FN void flash_backward_kv(Ex& ex, float* smem, int seq, int H, float scale, bool bf16, bool causal,
                                     const float* __restrict__ qkv, const float* __restrict__ dout,
                                     const float* __restrict__ stats, const float* __restrict__ delta,
                                     float* __restrict__ dqkv) {
  using Cfg = FlashConfig<D>;
  constexpr int Bt = Cfg::kTile, LD = Cfg::kLd, LS = Cfg::kLs;
  float* sK = smem;                      // [Bt, D+1] this block's keys
  float* sV = sK + Cfg::kTileFloats;     // [Bt, D+1]
  float* sQ = sV + Cfg::kTileFloats;     // [Bt, D+1] the current query tile
  float* sdO = sQ + Cfg::kTileFloats;    // [Bt, D+1]
  float* sP = sdO + Cfg::kTileFloats;    // [Bt, Bt+1] P (row = query, column = key), rounded
  float* sdS = sP + Cfg::kScoreFloats;   // [Bt, Bt+1] dS, rounded
  float* sM = sdS + Cfg::kScoreFloats;   // [Bt] the query rows' m
  float* sInv = sM + Bt;                 // [Bt] inv
  float* sDelta = sInv + Bt;             // [Bt] delta

  const int tid = ex.thread();
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int kt = ex.block_y();  // the longest (earliest) key tiles first
  const int k0 = kt * Bt, kn = imin(Bt, seq - k0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;
  const float* obase = dout + std::size_t(b) * seq * C + std::size_t(h) * D;
  const float* st = stats + (std::size_t(b) * H + h) * seq * 2;  // [T, 2]
  const float* dl = delta + (std::size_t(b) * H + h) * seq;      // [T]
  const int j = tid >> 2, sub = tid & 3;                         // this thread's key row, its lane

  load_tile<D, Bt, Cfg::kThreads>(tid, sK, base + C, ld, k0, kn, bf16);
  load_tile<D, Bt, Cfg::kThreads>(tid, sV, base + 2 * C, ld, k0, kn, bf16);
  float dk[Cfg::kCols], dv[Cfg::kCols];
  MIXLN_UNROLL
  for (int c = 0; c < Cfg::kCols; ++c) dk[c] = dv[c] = 0.f;

  const int n_qt = (seq + Bt - 1) / Bt;
  for (int qt = flash_first_query_tile(k0, Bt, causal); qt < n_qt; ++qt) {  // block-uniform bounds
    const int q0 = qt * Bt, qn = imin(Bt, seq - q0);
    ex.sync();  // the previous query tile's sQ, sdO, sP, sdS, stats are read
    load_tile<D, Bt, Cfg::kThreads>(tid, sQ, base, ld, q0, qn, bf16);
    load_tile<D, Bt, Cfg::kThreads>(tid, sdO, obase, std::size_t(C), q0, qn, bf16);
    for (int r = tid; r < Bt; r += Cfg::kThreads) {
      const bool in = r < qn;
      sM[r] = in ? st[2 * std::size_t(q0 + r)] : 0.f;
      sInv[r] = in ? st[2 * std::size_t(q0 + r) + 1] : 0.f;
      sDelta[r] = in ? dl[q0 + r] : 0.f;
    }
    ex.sync();  // sK, sV (first pass), sQ, sdO, stats in place
    // s = q_r·k_j and dP = dO_r·v_j for the query rows r = sub + 4i of this thread's key j
    float s[Cfg::kKeys], dp[Cfg::kKeys];
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) s[i] = dp[i] = 0.f;
    MIXLN_UNROLL4
    for (int d = 0; d < D; ++d) {
      const float kd = sK[j * LD + d], vd = sV[j * LD + d];
      MIXLN_UNROLL
      for (int i = 0; i < Cfg::kKeys; ++i) {
        s[i] = fma_f(sQ[(sub + 4 * i) * LD + d], kd, s[i]);
        dp[i] = fma_f(sdO[(sub + 4 * i) * LD + d], vd, dp[i]);
      }
    }
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) {
      const int r = sub + 4 * i;
      const float p = flash_live(q0 + r, k0 + j, seq, causal) ? flash_prob(s[i] * scale, sM[r], sInv[r]) : 0.f;
      const float ds = flash_ds(p, dp[i], sDelta[r]);
      sP[r * LS + j] = flash_operand(p, bf16);
      sdS[r * LS + j] = flash_operand(ds, bf16);
    }
    ex.sync();  // the tile's P and dS in place (column j comes from 4 lanes of a quad)
    // dV_j += Σ_r P_rj dO_r,  dK_j += Σ_r dS_rj q_r  (columns d = sub + 4c), rows in order
    for (int r = 0; r < qn; ++r) {
      const float p = sP[r * LS + j], ds = sdS[r * LS + j];
      MIXLN_UNROLL
      for (int c = 0; c < Cfg::kCols; ++c) {
        dv[c] = fma_f(p, sdO[r * LD + sub + 4 * c], dv[c]);
        dk[c] = fma_f(ds, sQ[r * LD + sub + 4 * c], dk[c]);
      }
    }
  }
  if (j < kn) {
    float* g = dqkv + (std::size_t(b) * seq + k0 + j) * ld + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int c = 0; c < Cfg::kCols; ++c) {
      g[C + sub + 4 * c] = dk[c] * scale;
      g[2 * C + sub + 4 * c] = dv[c];
    }
  }
}

// --- backward 3: dQ — one block per (b·H + h, query tile) ------------------------------------
template <int D, class Ex>
MIXLN_EXEC_FN void flash_backward_q(Ex& ex, float* smem, int seq, int H, float scale, bool bf16, bool causal,
                                    const float* __restrict__ qkv, const float* __restrict__ dout,
                                    const float* __restrict__ stats, const float* __restrict__ delta,
                                    float* __restrict__ dqkv) {
  using Cfg = FlashConfig<D>;
  constexpr int Bt = Cfg::kTile, LD = Cfg::kLd, LS = Cfg::kLs;
  float* sQ = smem;                    // [Bt, D+1] this block's query rows
  float* sdO = sQ + Cfg::kTileFloats;  // [Bt, D+1]
  float* sK = sdO + Cfg::kTileFloats;  // [Bt, D+1] the current key tile
  float* sV = sK + Cfg::kTileFloats;   // [Bt, D+1]
  float* sdS = sV + Cfg::kTileFloats;  // [Bt, Bt+1] dS, rounded

  const int tid = ex.thread();
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int qt = ex.grid_y() - 1 - ex.block_y();  // the longest tiles first
  const int q0 = qt * Bt, qn = imin(Bt, seq - q0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;
  const float* obase = dout + std::size_t(b) * seq * C + std::size_t(h) * D;
  const int r = tid >> 2, sub = tid & 3, t = q0 + r;
  const bool in = t < seq;
  const std::size_t srow_ix = (std::size_t(b) * H + h) * seq + (in ? t : 0);
  const float m_t = in ? stats[2 * srow_ix] : 0.f, inv_t = in ? stats[2 * srow_ix + 1] : 0.f,
              delta_t = in ? delta[srow_ix] : 0.f;

  load_tile<D, Bt, Cfg::kThreads>(tid, sQ, base, ld, q0, qn, bf16);
  load_tile<D, Bt, Cfg::kThreads>(tid, sdO, obase, std::size_t(C), q0, qn, bf16);
  float dq[Cfg::kCols];
  MIXLN_UNROLL
  for (int c = 0; c < Cfg::kCols; ++c) dq[c] = 0.f;
  float* dsrow = sdS + r * LS;

  const int last_kt = flash_last_key_tile(q0, Bt, Bt, seq, causal);  // block-uniform
  for (int kt = 0; kt <= last_kt; ++kt) {
    const int k0 = kt * Bt, kn = imin(Bt, seq - k0);
    ex.sync();  // the previous key tile's sK is read
    load_tile<D, Bt, Cfg::kThreads>(tid, sK, base + C, ld, k0, kn, bf16);
    load_tile<D, Bt, Cfg::kThreads>(tid, sV, base + 2 * C, ld, k0, kn, bf16);
    ex.sync();  // sQ, sdO (first pass), sK, sV in place
    float s[Cfg::kKeys], dp[Cfg::kKeys];  // against keys j = sub + 4i
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) s[i] = dp[i] = 0.f;
    MIXLN_UNROLL4
    for (int d = 0; d < D; ++d) {
      const float qd = sQ[r * LD + d], od = sdO[r * LD + d];
      MIXLN_UNROLL
      for (int i = 0; i < Cfg::kKeys; ++i) {
        s[i] = fma_f(qd, sK[(sub + 4 * i) * LD + d], s[i]);
        dp[i] = fma_f(od, sV[(sub + 4 * i) * LD + d], dp[i]);
      }
    }
    MIXLN_UNROLL
    for (int i = 0; i < Cfg::kKeys; ++i) {
      const int j = sub + 4 * i;
      const float p = flash_live(t, k0 + j, seq, causal) ? flash_prob(s[i] * scale, m_t, inv_t) : 0.f;
      dsrow[j] = flash_operand(flash_ds(p, dp[i], delta_t), bf16);
    }
    ex.sync_warp();  // row r's dS, from the 4 lanes of its quad, visible to all 4
    // dQ_r += Σ_j dS_rj k_j (columns d = sub + 4c), keys in order
    for (int j = 0; j < kn; ++j) {
      const float ds = dsrow[j];
      MIXLN_UNROLL
      for (int c = 0; c < Cfg::kCols; ++c) dq[c] = fma_f(ds, sK[j * LD + sub + 4 * c], dq[c]);
    }
  }
  if (in) {
    float* g = dqkv + (std::size_t(b) * seq + t) * ld + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int c = 0; c < Cfg::kCols; ++c) g[sub + 4 * c] = dq[c] * scale;
  }
}

}  // namespace

#if defined(__CUDACC__)
namespace {

using attention_exec::DeviceExec;
using detail::check;

// The kernels: the bodies above on the device executor.
template <int D>
__global__ void __launch_bounds__(FlashConfig<D>::kThreads, 1)
    flash_forward_kernel(int seq, int H, float scale, bool bf16, bool causal, const float* __restrict__ qkv,
                         float* __restrict__ stats, float* __restrict__ out) {
  extern __shared__ float smem[];
  DeviceExec ex;
  flash_forward<D>(ex, smem, seq, H, scale, bf16, causal, qkv, stats, out);
}

__global__ void __launch_bounds__(kDeltaThreads)
    flash_delta_kernel(int rows, int seq, int H, int D, const float* __restrict__ dout, const float* __restrict__ out,
                       float* __restrict__ delta) {
  DeviceExec ex;
  flash_delta(ex, rows, seq, H, D, dout, out, delta);
}

template <int D>
__global__ void __launch_bounds__(FlashConfig<D>::kThreads, 1)
    flash_backward_kv_kernel(int seq, int H, float scale, bool bf16, bool causal, const float* __restrict__ qkv,
                             const float* __restrict__ dout, const float* __restrict__ stats,
                             const float* __restrict__ delta, float* __restrict__ dqkv) {
  extern __shared__ float smem[];
  DeviceExec ex;
  flash_backward_kv<D>(ex, smem, seq, H, scale, bf16, causal, qkv, dout, stats, delta, dqkv);
}

template <int D>
__global__ void __launch_bounds__(FlashConfig<D>::kThreads, 1)
    flash_backward_q_kernel(int seq, int H, float scale, bool bf16, bool causal, const float* __restrict__ qkv,
                            const float* __restrict__ dout, const float* __restrict__ stats,
                            const float* __restrict__ delta, float* __restrict__ dqkv) {
  extern __shared__ float smem[];
  DeviceExec ex;
  flash_backward_q<D>(ex, smem, seq, H, scale, bf16, causal, qkv, dout, stats, delta, dqkv);
}

// Calls f(std::integral_constant<int, D>) for the head dims the kernels are compiled for.
template <class F>
void with_head_dim(int D, const char* op, F&& f) {
  switch (D) {
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 48: return f(std::integral_constant<int, 48>{});  // LLaMA-250M: 768 / 16 heads
    case 64: return f(std::integral_constant<int, 64>{});
    case 96: return f(std::integral_constant<int, 96>{});
    case 128: return f(std::integral_constant<int, 128>{});
    default:
      throw Error(std::string(op) + ": head dim " + std::to_string(D) +
                  " is not supported by the fused attention kernels (compiled for head dims 8, 16, 32, 48, 64, 96, 128)");
  }
}

// Dynamic shared memory beyond the default 48 KB must be allowed per kernel (per device: set at
// every launch, a cheap host call).
template <class Kernel>
void allow_smem(Kernel kernel, std::size_t bytes, const char* what) {
  if (bytes > 48 * 1024)
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)), what);
}

// The tensor-core kernels (attention_mma.cuh) serve bf16 at head dims 64 and 128 on sm_80 and
// later (bf16 mma.sync); everything else takes the SIMT kernels above.
bool device_has_bf16_mma() {
  int dev = 0, major = 0;
  check(cudaGetDevice(&dev), "cudaGetDevice");
  check(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), "cudaDeviceGetAttribute");
  return major >= 8;
}
template <int D>
constexpr bool mma_head_dim = D == 64 || D == 128;

}  // namespace

void Backend::attention_forward(Precision p, AttentionMask mask, int B, int seq, int H, int D,
                                ActPtr<const float> qkv_act, float* stats, ActPtr<float> out_act) {
  if (B <= 0 || seq <= 0 || H <= 0) return;
  const float* qkv = qkv_act.scalar();  // fp32 activations on this backend
  float* out = out_act.scalar();
  const bool bf16 = p == Precision::bf16, causal = mask == AttentionMask::causal;
  const float scale = 1.f / std::sqrt(float(D));
  with_head_dim(D, "attention_forward", [&](auto dim) {
    constexpr int Dc = decltype(dim)::value;
    if constexpr (mma_head_dim<Dc>) {
      if (bf16 && device_has_bf16_mma()) {
        using M = attention_mma::MmaConfig<Dc>;
        allow_smem(attention_mma::flash_mma_forward_kernel<Dc>, M::forward_smem,
                   "cudaFuncSetAttribute(flash_mma_forward)");
        const dim3 grid(unsigned(B * H), unsigned((seq + M::kTile - 1) / M::kTile));
        attention_mma::flash_mma_forward_kernel<Dc><<<grid, attention_mma::kThreads, M::forward_smem,
                                                      compute_stream()>>>(seq, H, scale, causal, qkv, stats, out);
        check_launch("attention_forward (flash_mma_forward)");
        return;
      }
    }
    using Cfg = FlashConfig<Dc>;
    allow_smem(flash_forward_kernel<Dc>, Cfg::forward_smem, "cudaFuncSetAttribute(flash_forward)");
    const dim3 grid(unsigned(B * H), unsigned((seq + Cfg::kTile - 1) / Cfg::kTile));
    flash_forward_kernel<Dc><<<grid, Cfg::kThreads, Cfg::forward_smem, compute_stream()>>>(seq, H, scale, bf16, causal,
                                                                                           qkv, stats, out);
    check_launch("attention_forward (flash_forward)");
  });
}

void Backend::attention_backward(Precision p, AttentionMask mask, int B, int seq, int H, int D, ActPtr<const float> qkv_act,
                                 ActPtr<const float> out_act, const float* stats, ActPtr<const float> dout_act,
                                 float* delta, ActPtr<float> dqkv_act) {
  if (B <= 0 || seq <= 0 || H <= 0) return;
  const float* qkv = qkv_act.scalar();  // fp32 activations on this backend
  const float* out = out_act.scalar();
  const float* dout = dout_act.scalar();
  float* dqkv = dqkv_act.scalar();
  const bool bf16 = p == Precision::bf16, causal = mask == AttentionMask::causal;
  const float scale = 1.f / std::sqrt(float(D));
  with_head_dim(D, "attention_backward", [&](auto dim) {
    constexpr int Dc = decltype(dim)::value;
    using Cfg = FlashConfig<Dc>;
    const int rows = B * seq;
    const long long warps = (long long)rows * H;
    const unsigned delta_blocks = unsigned((warps + kDeltaThreads / 32 - 1) / (kDeltaThreads / 32));
    flash_delta_kernel<<<delta_blocks, kDeltaThreads, 0, compute_stream()>>>(rows, seq, H, Dc, dout, out, delta);
    check_launch("attention_backward (flash_delta)");

    if constexpr (mma_head_dim<Dc>) {
      if (bf16 && device_has_bf16_mma()) {
        using M = attention_mma::MmaConfig<Dc>;
        const dim3 mgrid(unsigned(B * H), unsigned((seq + M::kTile - 1) / M::kTile));
        allow_smem(attention_mma::flash_mma_backward_kv_kernel<Dc>, M::kv_smem,
                   "cudaFuncSetAttribute(flash_mma_backward_kv)");
        attention_mma::flash_mma_backward_kv_kernel<Dc><<<mgrid, attention_mma::kThreads, M::kv_smem,
                                                          compute_stream()>>>(seq, H, scale, causal, qkv, dout, stats,
                                                                              delta, dqkv);
        check_launch("attention_backward (flash_mma_backward_kv)");
        allow_smem(attention_mma::flash_mma_backward_q_kernel<Dc>, M::q_smem,
                   "cudaFuncSetAttribute(flash_mma_backward_q)");
        attention_mma::flash_mma_backward_q_kernel<Dc><<<mgrid, attention_mma::kThreads, M::q_smem,
                                                         compute_stream()>>>(seq, H, scale, causal, qkv, dout, stats,
                                                                             delta, dqkv);
        check_launch("attention_backward (flash_mma_backward_q)");
        return;
      }
    }
    const dim3 grid(unsigned(B * H), unsigned((seq + Cfg::kTile - 1) / Cfg::kTile));
    allow_smem(flash_backward_kv_kernel<Dc>, Cfg::kv_smem, "cudaFuncSetAttribute(flash_backward_kv)");
    flash_backward_kv_kernel<Dc><<<grid, Cfg::kThreads, Cfg::kv_smem, compute_stream()>>>(seq, H, scale, bf16, causal, qkv,
                                                                                         dout, stats, delta, dqkv);
    check_launch("attention_backward (flash_backward_kv)");
    allow_smem(flash_backward_q_kernel<Dc>, Cfg::q_smem, "cudaFuncSetAttribute(flash_backward_q)");
    flash_backward_q_kernel<Dc><<<grid, Cfg::kThreads, Cfg::q_smem, compute_stream()>>>(seq, H, scale, bf16, causal, qkv,
                                                                                       dout, stats, delta, dqkv);
    check_launch("attention_backward (flash_backward_q)");
  });
}

#endif  // __CUDACC__

}  // namespace mixln::cuda
