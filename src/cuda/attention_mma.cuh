// src/cuda/attention_mma.cuh — the tensor-core (mma.sync m16n8k16 bf16 → fp32, sm_80+) kernels of
// the fused attention (causal or without a mask) for Precision::bf16 and head dims 64 and 128:
// the forward, and the two heavy backward kernels (dK/dV per key tile, dQ per query tile; delta stays the SIMT kernel
// of attention.cu). Same contract, layouts and arithmetic as the SIMT kernels of attention.cu and
// the CPU twin of math/flash_attention.hpp: q, k, v, dO rounded to bf16 when staged in shared
// memory, P and dS rounded to bf16 as mma operands (flash_operand), fp32 accumulation, fp32 online
// softmax and statistics (flash_online_update, flash_finalize, flash_prob, flash_ds); stats (m, inv),
// out and dqkv written with =. Deterministic: no atomics, every output element owned by one lane,
// which sums its terms in a fixed order (tiles in order, mma k-steps in order).
//
// Status: emulated on the CPU (tests/test_attention_mma.cpp runs these very bodies lane by lane
// against the CPU twin), compiled for sm_80 and sm_90; never run on a GPU.
//
// Executor. Each kernel body is a template over an executor `ex` (attention_exec.cuh: thread and
// block ids, sync, shfl_xor, mma), so the same per-thread code is compiled for the GPU
// (attention_exec::DeviceExec) and for the host (tests/attention_emulator.hpp: 128 fibers stepped
// in lock-step, mma emulated from the 32 lanes' fragments).
//
// Fragments (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type"; lane = 4g + c,
// g = groupID = lane >> 2, c = threadID_in_group = lane & 3; a .b32 register holds two bf16, the
// lower-indexed element in the lower 16 bits):
//   A 16×16 (row): a0 = A[g][2c, 2c+1]   a1 = A[g+8][2c, 2c+1]   a2 = A[g][2c+8, 2c+9]   a3 = A[g+8][2c+8, 2c+9]
//   B 16×8  (col): b0 = B[2c, 2c+1][g]   b1 = B[2c+8, 2c+9][g]
//   C, D 16×8 f32: d0, d1 = D[g][2c, 2c+1]   d2, d3 = D[g+8][2c, 2c+1]
// so the C fragments of two adjacent n-tiles (columns 0–7 and 8–15 of a 16×16 block) are, packed
// in pairs, the A fragment of that block (a0 = n-tile 0's d0 d1, a1 = its d2 d3, a2 and a3 the same
// of n-tile 1): S and dS go from accumulator to the next product's A operand without shared memory.
//
// Tiles and warps. 4 warps (128 threads) per block; a warp owns 16 rows of the block's tile (the
// mma's M): query rows in the forward and dQ, keys in dK/dV. The block's tile is 64 rows; the
// tiles it visits are Bc = 64 keys (forward), 64 (D = 64) or 32 (D = 128, registers) query rows
// (dK/dV) or keys (dQ). A lane holds rows g and g + 8 of its warp's 16 and, per n-tile of 8
// columns, columns 2c, 2c + 1: a row's max and sum go through the quad's two xor shuffles (MmaRow,
// as QuadRow in attention.cu). A warp none of whose rows can see a key of the visited tile (all
// above the diagonal of a causal mask, or all padding: flash_rows_see_keys) skips it (warp-uniform; the skipped work would change
// nothing: alpha = 1, P = 0).
//   forward  S = Q·Kᵀ (A: sQ rows, B: sK rows), online softmax, O += P̃·V (A: P̃ from S's
//            registers, B: V transposed, sVt [D][Bc]); O, m, l in registers; finalize.
//   dK/dV    Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ (A: sK, sV rows of the warp's keys; B: sQ, sdO rows), P and dS
//            from the saved stats, then dV += Pᵀ·dO, dK += dSᵀ·Q (B: sdOt, sQt, transposed).
//   dQ       S = Q·Kᵀ, dP = dO·Vᵀ (A: sQ, sdO rows; B: sK, sV rows), dS, then dQ += dS·K (B: sKt).
// Shared memory holds bf16 tiles, [rows][D + 8] row-major or [D][rows + 8] transposed: a row of
// (D + 8)/2 ≡ 4 (mod 32) words (and 36, 20 words for the transposed 64- and 32-row tiles) puts the
// 8 groups × 4 lanes of a fragment load on 32 distinct banks. Fragments are loaded with 32-bit
// shared loads (no ldmatrix). Rows beyond a partial tile are zero (0·x must stay 0: no NaN
// garbage in a product), and masked by flash_live.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "mixln/math/flash_attention.hpp"
#include "attention_exec.cuh"

#define MIXLN_MMA_FN MIXLN_EXEC_FN

namespace mixln::attention_mma {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kWarpRows = 16;  // rows of the block's tile per warp: the mma's M

template <int D>
struct MmaConfig {
  static_assert(D == 64 || D == 128, "the tensor-core attention is compiled for head dims 64 and 128");
  static constexpr int kTile = kWarps * kWarpRows;   // the block's tile: 64 query rows or keys
  static constexpr int kFwdKeys = 64;                // forward: keys per visited key tile
  static constexpr int kInner = D == 128 ? 32 : 64;  // backward: rows of the visited tiles
  static constexpr int kLd = D + 8;                  // [rows][D] tiles (bf16 elements)
  static constexpr int kLdFwdT = kFwdKeys + 8;       // [D][kFwdKeys] (sVt)
  static constexpr int kLdInT = kInner + 8;          // [D][kInner] (sQt, sdOt; sKt)
  static constexpr std::size_t kBf16 = sizeof(std::uint16_t);
  static constexpr std::size_t forward_smem = (std::size_t(kTile) * kLd + std::size_t(kFwdKeys) * kLd +
                                               std::size_t(D) * kLdFwdT) * kBf16;
  static constexpr std::size_t kv_smem = 3 * std::size_t(kInner) * sizeof(float) +
                                         (2 * std::size_t(kTile) * kLd + 2 * std::size_t(kInner) * kLd +
                                          2 * std::size_t(D) * kLdInT) * kBf16;
  static constexpr std::size_t q_smem = (2 * std::size_t(kTile) * kLd + 2 * std::size_t(kInner) * kLd +
                                         std::size_t(D) * kLdInT) * kBf16;
  static_assert(kLd % 2 == 0 && kLdFwdT % 2 == 0 && kLdInT % 2 == 0, "32-bit fragment loads");
};

using attention_exec::imin;

// Two consecutive bf16 of shared memory as one .b32 register (the lower address in the low half).
MIXLN_MMA_FN std::uint32_t ld_pair(const std::uint16_t* p) {
#if defined(__CUDACC__)
  return *reinterpret_cast<const std::uint32_t*>(p);
#else
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

// Two floats that are already bf16 values (flash_operand) as a .b32 pair: lo in the low half.
MIXLN_MMA_FN std::uint32_t pack_pair(float lo, float hi) {
  return (float_bits(lo) >> 16) | (float_bits(hi) & 0xffff0000u);
}

// The A fragment of the 16×16 block at s (row-major, row stride ld).
MIXLN_MMA_FN void load_a(std::uint32_t (&a)[4], const std::uint16_t* s, int ld, int g, int c) {
  a[0] = ld_pair(s + g * ld + 2 * c);
  a[1] = ld_pair(s + (g + 8) * ld + 2 * c);
  a[2] = ld_pair(s + g * ld + 2 * c + 8);
  a[3] = ld_pair(s + (g + 8) * ld + 2 * c + 8);
}

// The B fragment (16 k × 8 n) of a matrix stored n-major, s[n·ld + k] (k contiguous): K rows for
// S = Q·Kᵀ, or a transposed tile.
MIXLN_MMA_FN void load_b(std::uint32_t (&b)[2], const std::uint16_t* s, int ld, int g, int c) {
  b[0] = ld_pair(s + g * ld + 2 * c);
  b[1] = ld_pair(s + g * ld + 2 * c + 8);
}

// The A fragment of columns 16kk .. 16kk + 15 of a 16-row accumulator acc[n-tile][4] whose values
// are bf16 already (P, dS).
MIXLN_MMA_FN void acc_to_a(std::uint32_t (&a)[4], const float (&lo)[4], const float (&hi)[4]) {
  a[0] = pack_pair(lo[0], lo[1]);
  a[1] = pack_pair(lo[2], lo[3]);
  a[2] = pack_pair(hi[0], hi[1]);
  a[3] = pack_pair(hi[2], hi[3]);
}

// Rows [r0, r0 + n) (columns 0 .. D) of a row-major fp32 matrix of row stride `stride` → bf16
// (flash_operand's rounding), into dst [Rows][ld] (row-major) and/or dstT [D][ldt] (transposed);
// rows n .. Rows are zero. Consecutive threads read consecutive columns.
template <int D, int Rows>
MIXLN_MMA_FN void stage(int tid, const float* __restrict__ src, std::size_t stride, int r0, int n,
                        std::uint16_t* dst, int ld, std::uint16_t* dstT, int ldt) {
  for (int e = tid; e < Rows * D; e += kThreads) {
    const int r = e / D, d = e % D;
    const std::uint16_t x = float_to_bf16(r < n ? src[std::size_t(r0 + r) * stride + d] : 0.f);
    if (dst) dst[r * ld + d] = x;
    if (dstT) dstT[d * ldt + r] = x;
  }
}

// The backward's pair of products, with the same B-operand walk: x = A1·B1ᵀ and y = A2·B2ᵀ (=)
// for the warp's 16 rows of A1 and A2 ([16][D], from a1 and a2) against the N rows of B1 and B2
// ([N][D], from b1 and b2), every tile of row stride ld: S and dP (or Sᵀ and dPᵀ).
template <int D, int N, class Ex>
MIXLN_MMA_FN void two_products(Ex& ex, float (&x)[N / 8][4], float (&y)[N / 8][4], const std::uint16_t* a1,
                               const std::uint16_t* a2, const std::uint16_t* b1, const std::uint16_t* b2, int ld,
                               int g, int c) {
  MIXLN_UNROLL
  for (int nt = 0; nt < N / 8; ++nt)
    MIXLN_UNROLL
    for (int e = 0; e < 4; ++e) x[nt][e] = y[nt][e] = 0.f;
  MIXLN_UNROLL
  for (int kk = 0; kk < D / 16; ++kk) {
    std::uint32_t a1f[4], a2f[4];
    load_a(a1f, a1 + 16 * kk, ld, g, c);
    load_a(a2f, a2 + 16 * kk, ld, g, c);
    MIXLN_UNROLL
    for (int nt = 0; nt < N / 8; ++nt) {
      std::uint32_t b1f[2], b2f[2];
      load_b(b1f, b1 + nt * 8 * ld + 16 * kk, ld, g, c);
      ex.mma(x[nt], a1f, b1f);
      load_b(b2f, b2 + nt * 8 * ld + 16 * kk, ld, g, c);
      ex.mma(y[nt], a2f, b2f);
    }
  }
}

// The row executor of math/row.hpp (sum, max) for one accumulator row shared by the 4 lanes of a
// quad: the lane's N values, then the two xor shuffles (bitwise the same result on the 4 lanes).
template <int N, class Ex>
struct MmaRow {
  static constexpr int n = N;
  Ex& ex;

  template <class F>
  MIXLN_MMA_FN float sum(F&& f) const {
    float acc = 0.f;
    MIXLN_UNROLL
    for (int j = 0; j < N; ++j) acc += f(j);
    acc += ex.shfl_xor(acc, 1);
    acc += ex.shfl_xor(acc, 2);
    return acc;
  }
  template <class F>
  MIXLN_MMA_FN float max(F&& f) const {
    float m = flash_masked<float>();
    MIXLN_UNROLL
    for (int j = 0; j < N; ++j) {
      const float v = f(j);
      m = v > m ? v : m;
    }
    const float o1 = ex.shfl_xor(m, 1);
    m = o1 > m ? o1 : m;
    const float o2 = ex.shfl_xor(m, 2);
    return o2 > m ? o2 : m;
  }
};

// --- forward: one block per (b·H + h, query tile of 64 rows) -----------------------------------
template <int D, class Ex>
MIXLN_MMA_FN void forward(Ex& ex, void* smem, int seq, int H, float scale, bool causal, const float* __restrict__ qkv,
                          float* __restrict__ stats, float* __restrict__ out) {
  using Cfg = MmaConfig<D>;
  constexpr int Br = Cfg::kTile, Bc = Cfg::kFwdKeys, LD = Cfg::kLd, LDT = Cfg::kLdFwdT;
  std::uint16_t* sQ = static_cast<std::uint16_t*>(smem);  // [Br][LD]
  std::uint16_t* sK = sQ + Br * LD;                        // [Bc][LD] the visited key tile
  std::uint16_t* sVt = sK + Bc * LD;                       // [D][LDT] its values, transposed
  const int tid = ex.thread(), warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int qt = ex.grid_y() - 1 - ex.block_y();  // the longest tiles first
  const int q0 = qt * Br, qn = imin(Br, seq - q0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;  // q; k at +C, v at +2C
  const int w0 = q0 + kWarpRows * warp;  // the warp's first query row; the lane's: w0 + g, w0 + g + 8

  stage<D, Br>(tid, base, ld, q0, qn, sQ, LD, nullptr, 0);
  float o[D / 8][4];
  MIXLN_UNROLL
  for (int dn = 0; dn < D / 8; ++dn)
    MIXLN_UNROLL
    for (int e = 0; e < 4; ++e) o[dn][e] = 0.f;
  float m[2] = {flash_masked<float>(), flash_masked<float>()}, l[2] = {0.f, 0.f};

  const int last_kt = flash_last_key_tile(q0, Br, Bc, seq, causal);  // block-uniform
  for (int kt = 0; kt <= last_kt; ++kt) {
    const int k0 = kt * Bc, kn = imin(Bc, seq - k0);
    ex.sync();  // the previous tile's sK, sVt are read
    stage<D, Bc>(tid, base + C, ld, k0, kn, sK, LD, nullptr, 0);
    stage<D, Bc>(tid, base + 2 * C, ld, k0, kn, nullptr, 0, sVt, LDT);
    ex.sync();  // sQ (first pass), sK, sVt in place
    if (!flash_rows_see_keys(w0, w0 + kWarpRows - 1, k0, seq, causal)) continue;  // warp-uniform: no row of the warp sees the tile
    float s[Bc / 8][4];  // S = Q·Kᵀ, the warp's 16 rows × Bc keys
    MIXLN_UNROLL
    for (int nt = 0; nt < Bc / 8; ++nt)
      MIXLN_UNROLL
      for (int e = 0; e < 4; ++e) s[nt][e] = 0.f;
    MIXLN_UNROLL
    for (int kk = 0; kk < D / 16; ++kk) {
      std::uint32_t a[4];
      load_a(a, sQ + warp * kWarpRows * LD + 16 * kk, LD, g, c);
      MIXLN_UNROLL
      for (int nt = 0; nt < Bc / 8; ++nt) {
        std::uint32_t bb[2];
        load_b(bb, sK + nt * 8 * LD + 16 * kk, LD, g, c);
        ex.mma(s[nt], a, bb);
      }
    }
    // online softmax of the lane's two rows: row w0 + g + 8·hf holds s[nt][2hf + i], key 8nt + 2c + i
    MIXLN_UNROLL
    for (int hf = 0; hf < 2; ++hf) {
      const int t = w0 + g + 8 * hf;
      float x[Bc / 4];
      MIXLN_UNROLL
      for (int nt = 0; nt < Bc / 8; ++nt)
        MIXLN_UNROLL
        for (int i = 0; i < 2; ++i)
          x[2 * nt + i] = flash_live(t, k0 + 8 * nt + 2 * c + i, seq, causal) ? s[nt][2 * hf + i] * scale : flash_masked<float>();
      const float alpha = flash_online_update(MmaRow<Bc / 4, Ex>{ex}, x, m[hf], l[hf], true);
      MIXLN_UNROLL
      for (int nt = 0; nt < Bc / 8; ++nt)
        MIXLN_UNROLL
        for (int i = 0; i < 2; ++i) s[nt][2 * hf + i] = x[2 * nt + i];  // p̃, bf16 values
      MIXLN_UNROLL
      for (int dn = 0; dn < D / 8; ++dn) {
        o[dn][2 * hf] *= alpha;
        o[dn][2 * hf + 1] *= alpha;
      }
    }
    // O += P̃·V: k over the tile's keys
    MIXLN_UNROLL
    for (int kk = 0; kk < Bc / 16; ++kk) {
      std::uint32_t a[4];
      acc_to_a(a, s[2 * kk], s[2 * kk + 1]);
      MIXLN_UNROLL
      for (int dn = 0; dn < D / 8; ++dn) {
        std::uint32_t bb[2];
        load_b(bb, sVt + dn * 8 * LDT + 16 * kk, LDT, g, c);
        ex.mma(o[dn], a, bb);
      }
    }
  }
  MIXLN_UNROLL
  for (int hf = 0; hf < 2; ++hf) {
    const int t = w0 + g + 8 * hf;
    if (t >= seq) continue;  // padding rows (no live key: l = 0) store nothing
    const FlashStats<float> st = flash_finalize(m[hf], l[hf]);
    float* orow = out + (std::size_t(b) * seq + t) * C + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int dn = 0; dn < D / 8; ++dn)
      MIXLN_UNROLL
      for (int i = 0; i < 2; ++i) orow[8 * dn + 2 * c + i] = o[dn][2 * hf + i] * st.inv;
    if (c == 0) {
      float* sp = stats + ((std::size_t(b) * H + h) * seq + t) * 2;
      sp[0] = st.m;
      sp[1] = st.inv;
    }
  }
}

// --- backward: dK, dV — one block per (b·H + h, key tile of 64 keys) ----------------------------
template <int D, class Ex>
MIXLN_MMA_FN void backward_kv(Ex& ex, void* smem, int seq, int H, float scale, bool causal, const float* __restrict__ qkv,
                              const float* __restrict__ dout, const float* __restrict__ stats,
                              const float* __restrict__ delta, float* __restrict__ dqkv) {
  using Cfg = MmaConfig<D>;
  constexpr int Bc = Cfg::kTile, Br = Cfg::kInner, LD = Cfg::kLd, LDR = Cfg::kLdInT;
  float* sM = static_cast<float*>(smem);                        // [Br] the query rows' m
  float* sInv = sM + Br;                                        // [Br] inv
  float* sDelta = sInv + Br;                                    // [Br] delta
  std::uint16_t* sK = reinterpret_cast<std::uint16_t*>(sDelta + Br);  // [Bc][LD] this block's keys
  std::uint16_t* sV = sK + Bc * LD;                             // [Bc][LD]
  std::uint16_t* sQ = sV + Bc * LD;                             // [Br][LD] the visited query tile
  std::uint16_t* sdO = sQ + Br * LD;                            // [Br][LD]
  std::uint16_t* sQt = sdO + Br * LD;                           // [D][LDR] transposed
  std::uint16_t* sdOt = sQt + D * LDR;                          // [D][LDR]
  const int tid = ex.thread(), warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int kt = ex.block_y();  // the longest (earliest) key tiles first
  const int k0 = kt * Bc, kn = imin(Bc, seq - k0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;
  const float* obase = dout + std::size_t(b) * seq * C + std::size_t(h) * D;
  const float* st = stats + (std::size_t(b) * H + h) * seq * 2;  // [T, 2]
  const float* dl = delta + (std::size_t(b) * H + h) * seq;      // [T]
  const int w0 = k0 + kWarpRows * warp;  // the warp's first key; the lane's: w0 + g, w0 + g + 8

  stage<D, Bc>(tid, base + C, ld, k0, kn, sK, LD, nullptr, 0);
  stage<D, Bc>(tid, base + 2 * C, ld, k0, kn, sV, LD, nullptr, 0);
  float dk[D / 8][4], dv[D / 8][4];
  MIXLN_UNROLL
  for (int dn = 0; dn < D / 8; ++dn)
    MIXLN_UNROLL
    for (int e = 0; e < 4; ++e) dk[dn][e] = dv[dn][e] = 0.f;

  const int n_qt = (seq + Br - 1) / Br;
  for (int qt = flash_first_query_tile(k0, Br, causal); qt < n_qt; ++qt) {  // block-uniform bounds
    const int q0 = qt * Br, qn = imin(Br, seq - q0);
    ex.sync();  // the previous query tile's tiles and stats are read
    stage<D, Br>(tid, base, ld, q0, qn, sQ, LD, sQt, LDR);
    stage<D, Br>(tid, obase, std::size_t(C), q0, qn, sdO, LD, sdOt, LDR);
    for (int r = tid; r < Br; r += kThreads) {
      const bool in = r < qn;
      sM[r] = in ? st[2 * std::size_t(q0 + r)] : 0.f;
      sInv[r] = in ? st[2 * std::size_t(q0 + r) + 1] : 0.f;
      sDelta[r] = in ? dl[q0 + r] : 0.f;
    }
    ex.sync();  // sK, sV (first pass), the query tile and its stats in place
    if (!flash_rows_see_keys(q0, q0 + qn - 1, w0, seq, causal)) continue;  // warp-uniform: every query row of the tile is before the warp's keys
    float sT[Br / 8][4], dpT[Br / 8][4];  // Sᵀ = K·Qᵀ, dPᵀ = V·dOᵀ: the warp's 16 keys × Br query rows
    two_products<D, Br>(ex, sT, dpT, sK + warp * kWarpRows * LD, sV + warp * kWarpRows * LD, sQ, sdO, LD, g, c);
    // Pᵀ and dSᵀ in place: key w0 + g + 8hf, query row q = 8nt + 2c + i of the tile
    MIXLN_UNROLL
    for (int nt = 0; nt < Br / 8; ++nt)
      MIXLN_UNROLL
      for (int hf = 0; hf < 2; ++hf)
        MIXLN_UNROLL
        for (int i = 0; i < 2; ++i) {
          const int q = 8 * nt + 2 * c + i, e = 2 * hf + i;
          const float p =
              flash_live(q0 + q, w0 + g + 8 * hf, seq, causal) ? flash_prob(sT[nt][e] * scale, sM[q], sInv[q]) : 0.f;
          const float ds = flash_ds(p, dpT[nt][e], sDelta[q]);
          sT[nt][e] = flash_operand(p, true);
          dpT[nt][e] = flash_operand(ds, true);
        }
    // dV += Pᵀ·dO, dK += dSᵀ·Q: k over the tile's query rows
    MIXLN_UNROLL
    for (int kk = 0; kk < Br / 16; ++kk) {
      std::uint32_t ap[4], ads[4];
      acc_to_a(ap, sT[2 * kk], sT[2 * kk + 1]);
      acc_to_a(ads, dpT[2 * kk], dpT[2 * kk + 1]);
      MIXLN_UNROLL
      for (int dn = 0; dn < D / 8; ++dn) {
        std::uint32_t bo[2], bq[2];
        load_b(bo, sdOt + dn * 8 * LDR + 16 * kk, LDR, g, c);
        ex.mma(dv[dn], ap, bo);
        load_b(bq, sQt + dn * 8 * LDR + 16 * kk, LDR, g, c);
        ex.mma(dk[dn], ads, bq);
      }
    }
  }
  MIXLN_UNROLL
  for (int hf = 0; hf < 2; ++hf) {
    const int j = w0 + g + 8 * hf;
    if (j >= seq) continue;
    float* grow = dqkv + (std::size_t(b) * seq + j) * ld + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int dn = 0; dn < D / 8; ++dn)
      MIXLN_UNROLL
      for (int i = 0; i < 2; ++i) {
        grow[C + 8 * dn + 2 * c + i] = dk[dn][2 * hf + i] * scale;
        grow[2 * C + 8 * dn + 2 * c + i] = dv[dn][2 * hf + i];
      }
  }
}

// --- backward: dQ — one block per (b·H + h, query tile of 64 rows) ------------------------------
template <int D, class Ex>
MIXLN_MMA_FN void backward_q(Ex& ex, void* smem, int seq, int H, float scale, bool causal, const float* __restrict__ qkv,
                             const float* __restrict__ dout, const float* __restrict__ stats,
                             const float* __restrict__ delta, float* __restrict__ dqkv) {
  using Cfg = MmaConfig<D>;
  constexpr int Br = Cfg::kTile, Bc = Cfg::kInner, LD = Cfg::kLd, LDC = Cfg::kLdInT;
  std::uint16_t* sQ = static_cast<std::uint16_t*>(smem);  // [Br][LD] this block's query rows
  std::uint16_t* sdO = sQ + Br * LD;                       // [Br][LD]
  std::uint16_t* sK = sdO + Br * LD;                       // [Bc][LD] the visited key tile
  std::uint16_t* sV = sK + Bc * LD;                        // [Bc][LD]
  std::uint16_t* sKt = sV + Bc * LD;                       // [D][LDC] its keys, transposed
  const int tid = ex.thread(), warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
  const int bh = ex.block_x(), b = bh / H, h = bh % H, C = H * D;
  const int qt = ex.grid_y() - 1 - ex.block_y();  // the longest tiles first
  const int q0 = qt * Br, qn = imin(Br, seq - q0);
  const std::size_t ld = 3 * std::size_t(C);
  const float* base = qkv + std::size_t(b) * seq * ld + std::size_t(h) * D;
  const float* obase = dout + std::size_t(b) * seq * C + std::size_t(h) * D;
  const int w0 = q0 + kWarpRows * warp;  // the warp's first query row
  float m_t[2], inv_t[2], delta_t[2];     // of the lane's rows w0 + g, w0 + g + 8
  MIXLN_UNROLL
  for (int hf = 0; hf < 2; ++hf) {
    const int t = w0 + g + 8 * hf;
    const bool in = t < seq;
    const std::size_t row = (std::size_t(b) * H + h) * seq + (in ? t : 0);
    m_t[hf] = in ? stats[2 * row] : 0.f;
    inv_t[hf] = in ? stats[2 * row + 1] : 0.f;
    delta_t[hf] = in ? delta[row] : 0.f;
  }

  stage<D, Br>(tid, base, ld, q0, qn, sQ, LD, nullptr, 0);
  stage<D, Br>(tid, obase, std::size_t(C), q0, qn, sdO, LD, nullptr, 0);
  float dq[D / 8][4];
  MIXLN_UNROLL
  for (int dn = 0; dn < D / 8; ++dn)
    MIXLN_UNROLL
    for (int e = 0; e < 4; ++e) dq[dn][e] = 0.f;

  const int last_kt = flash_last_key_tile(q0, Br, Bc, seq, causal);  // block-uniform
  for (int kt = 0; kt <= last_kt; ++kt) {
    const int k0 = kt * Bc, kn = imin(Bc, seq - k0);
    ex.sync();  // the previous key tile is read
    stage<D, Bc>(tid, base + C, ld, k0, kn, sK, LD, sKt, LDC);
    stage<D, Bc>(tid, base + 2 * C, ld, k0, kn, sV, LD, nullptr, 0);
    ex.sync();  // sQ, sdO (first pass), the key tile in place
    if (!flash_rows_see_keys(w0, w0 + kWarpRows - 1, k0, seq, causal)) continue;  // warp-uniform
    float s[Bc / 8][4], dp[Bc / 8][4];  // S = Q·Kᵀ, dP = dO·Vᵀ: the warp's 16 rows × Bc keys
    two_products<D, Bc>(ex, s, dp, sQ + warp * kWarpRows * LD, sdO + warp * kWarpRows * LD, sK, sV, LD, g, c);
    // dS in place of S: row w0 + g + 8hf, key k0 + 8nt + 2c + i
    MIXLN_UNROLL
    for (int nt = 0; nt < Bc / 8; ++nt)
      MIXLN_UNROLL
      for (int hf = 0; hf < 2; ++hf)
        MIXLN_UNROLL
        for (int i = 0; i < 2; ++i) {
          const int e = 2 * hf + i;
          const float p = flash_live(w0 + g + 8 * hf, k0 + 8 * nt + 2 * c + i, seq, causal)
                              ? flash_prob(s[nt][e] * scale, m_t[hf], inv_t[hf])
                              : 0.f;
          s[nt][e] = flash_operand(flash_ds(p, dp[nt][e], delta_t[hf]), true);
        }
    // dQ += dS·K: k over the tile's keys
    MIXLN_UNROLL
    for (int kk = 0; kk < Bc / 16; ++kk) {
      std::uint32_t a[4];
      acc_to_a(a, s[2 * kk], s[2 * kk + 1]);
      MIXLN_UNROLL
      for (int dn = 0; dn < D / 8; ++dn) {
        std::uint32_t bb[2];
        load_b(bb, sKt + dn * 8 * LDC + 16 * kk, LDC, g, c);
        ex.mma(dq[dn], a, bb);
      }
    }
  }
  MIXLN_UNROLL
  for (int hf = 0; hf < 2; ++hf) {
    const int t = w0 + g + 8 * hf;
    if (t >= seq) continue;
    float* grow = dqkv + (std::size_t(b) * seq + t) * ld + std::size_t(h) * D;
    MIXLN_UNROLL
    for (int dn = 0; dn < D / 8; ++dn)
      MIXLN_UNROLL
      for (int i = 0; i < 2; ++i) grow[8 * dn + 2 * c + i] = dq[dn][2 * hf + i] * scale;
  }
}

#if defined(__CUDACC__)
// --- the device: the kernels ---------------------------------------------------

using attention_exec::DeviceExec;

// __launch_bounds__(128, 1): ptxas may use up to 255 registers a thread (the accumulators of
// D = 128 are 64–128 floats a lane); no spill, no stack frame (checked with -Xptxas -v).
template <int D>
__global__ void __launch_bounds__(kThreads, 1)
    flash_mma_forward_kernel(int seq, int H, float scale, bool causal, const float* __restrict__ qkv, float* __restrict__ stats,
                             float* __restrict__ out) {
  extern __shared__ __align__(16) unsigned char flash_mma_smem[];
  DeviceExec ex;
  forward<D>(ex, flash_mma_smem, seq, H, scale, causal, qkv, stats, out);
}

template <int D>
__global__ void __launch_bounds__(kThreads, 1)
    flash_mma_backward_kv_kernel(int seq, int H, float scale, bool causal, const float* __restrict__ qkv,
                                 const float* __restrict__ dout, const float* __restrict__ stats,
                                 const float* __restrict__ delta, float* __restrict__ dqkv) {
  extern __shared__ __align__(16) unsigned char flash_mma_smem[];
  DeviceExec ex;
  backward_kv<D>(ex, flash_mma_smem, seq, H, scale, causal, qkv, dout, stats, delta, dqkv);
}

template <int D>
__global__ void __launch_bounds__(kThreads, 1)
    flash_mma_backward_q_kernel(int seq, int H, float scale, bool causal, const float* __restrict__ qkv,
                                const float* __restrict__ dout, const float* __restrict__ stats,
                                const float* __restrict__ delta, float* __restrict__ dqkv) {
  extern __shared__ __align__(16) unsigned char flash_mma_smem[];
  DeviceExec ex;
  backward_q<D>(ex, flash_mma_smem, seq, H, scale, causal, qkv, dout, stats, delta, dqkv);
}
#endif  // __CUDACC__

}  // namespace mixln::attention_mma
