// mixln/cpu/backend.hpp — the CPU backend: fp32 (or fp64 for tests), OpenBLAS, OpenMP.
//
// A backend is a tag type with the ops the engine and the branches call
// (schedule/backend_concept.hpp lists them); the CUDA backend offers the same names over
// device memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "../buffer.hpp"
#include "../math/adamw.hpp"
#include "attention.hpp"
#include "boundary.hpp"
#include "cross_entropy.hpp"
#include "embedding.hpp"
#include "gemm.hpp"
#include "mlp.hpp"
#include "norm_rows.hpp"

namespace mixln::cpu {

template <class T>
struct Backend {
  using scalar = T;
  template <class U>
  using buffer = AlignedBuffer<U>;
  static constexpr const char* name = "cpu";
  static constexpr bool host_memory = true;

  static void zero(T* p, std::size_t n) { std::memset(p, 0, n * sizeof(T)); }
  static void synchronize() {}
  // "OpenBLAS 0.3.21 ... (Haswell kernels)", for benchmark records.
  static std::string describe() {
#if defined(OPENBLAS_VERSION)
    std::string cfg = openblas_get_config();
    while (!cfg.empty() && cfg.back() == ' ') cfg.pop_back();
    cfg += " (" + std::string(openblas_get_corename()) + " kernels)";
    if (std::is_same_v<T, float> && gemm_precision() == GemmPrecision::bf16) cfg += "; bf16 GEMMs: " + bf16_gemm_description();
    return cfg;
#else
    return "CBLAS";
#endif
  }
  template <class U>
  static void copy_to_device(U* dst, const U* src, std::size_t n) { std::memcpy(dst, src, n * sizeof(U)); }
  template <class U>
  static void copy_to_host(U* dst, const U* src, std::size_t n) { std::memcpy(dst, src, n * sizeof(U)); }
  // Host data the ops read (tokens, labels): on the CPU, used where it is.
  static const std::int32_t* stage(buffer<std::int32_t>&, const std::int32_t* host, std::size_t) {
    return host;
  }

  static void embedding_forward(int rows, int C, const std::int32_t* tok, const T* table, T* out) {
    cpu::embedding_forward(rows, C, tok, table, out);
  }
  static void embedding_backward(int rows, int C, const std::int32_t* tok, const T* dout, T* dt) {
    cpu::embedding_backward(rows, C, tok, dout, dt);
  }
  template <class Spec>
  static void boundary_forward(int rows, int n, const BoundaryArgs<Spec, T>& b) {
    cpu::boundary_forward<Spec>(rows, n, b);
  }
  template <class Spec>
  static void boundary_backward(int rows, int n, const BoundaryArgs<Spec, T>& b, const BoundaryGradArgs<Spec, T>& g) {
    cpu::boundary_backward<Spec>(rows, n, b, g);
  }
  template <class Kind>
  static void norm_rows_forward(int rows, int n, RowsView<const T> x, RowsView<T> y, T* const* w, T* stats) {
    cpu::norm_rows_forward<Kind>(rows, n, x, y, w, stats);
  }
  template <class Kind>
  static void norm_rows_backward(int rows, int n, RowsView<const T> x, const T* stats, T* const* w,
                                 RowsView<const T> dy, RowsView<T> dx, T* const* dw, T* partials) {
    cpu::norm_rows_backward<Kind>(rows, n, x, stats, w, dy, dx, dw, partials);
  }
  static void copy_rows(int rows, int n, RowsView<const T> src, RowsView<T> dst) { cpu::copy_rows(rows, n, src, dst); }
  template <class Op>
  static void map_forward(std::size_t n, const T* x, T* y) {
    cpu::map_forward<Op>(n, x, y);
  }
  template <class Op>
  static void map_backward(std::size_t n, const T* x, const T* dy, T* dx) {
    cpu::map_backward<Op>(n, x, dy, dx);
  }
  static void linear_forward(int M, int N, int K, const T* x, const T* W, T* y) {
    cpu::linear_forward(M, N, K, x, W, y);
  }
  static void linear_backward(int M, int N, int K, const T* dy, const T* x, const T* W, T* dx,
                              T* dW) {
    cpu::linear_backward(M, N, K, dy, x, W, dx, dW);
  }
  static void rope_tables(int seq, int D, T* cs, T* sn) { cpu::rope_tables(seq, D, cs, sn); }
  template <bool Backward>
  static void rope(int B, int seq, int H, int D, T* qkv, const T* cs, const T* sn) {
    cpu::rope_apply<Backward>(B, seq, H, D, qkv, cs, sn);
  }
  static void attention_forward(int B, int seq, int H, int D, const T* qkv, T* probs, T* out) {
    cpu::attention_forward(B, seq, H, D, qkv, probs, out);
  }
  static void attention_backward(int B, int seq, int H, int D, const T* qkv, const T* probs,
                                 const T* dout, T* dprobs, T* dqkv) {
    cpu::attention_backward(B, seq, H, D, qkv, probs, dout, dprobs, dqkv);
  }
  static void swiglu_forward(int rows, int I, const T* gu, T* act) {
    cpu::swiglu_forward(rows, I, gu, act);
  }
  static void swiglu_backward(int rows, int I, const T* gu, const T* dact, T* dgu) {
    cpu::swiglu_backward(rows, I, gu, dact, dgu);
  }
  static double cross_entropy(int rows, int V, T* logits, const std::int32_t* labels,
                              int grad_divisor, bool grad, T* row_loss) {
    return cpu::cross_entropy(rows, V, logits, labels, grad_divisor, grad, row_loss);
  }

  // --- optimizer support ---------------------------------------------------------------------
  static void adam_update(T* p, const T* g, T* m, T* v, std::size_t n, const AdamHyper& h, bool decay) {
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < n; ++i) mixln::adam_update(p[i], g[i], m[i], v[i], h, decay);
  }
  // Σ x² in double, in a fixed order (chunks summed in sequence).
  static double sum_squares(const T* x, std::size_t n) {
    constexpr std::size_t kChunk = 1 << 14;
    const std::size_t chunks = (n + kChunk - 1) / kChunk;
    std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static)
    for (std::size_t c = 0; c < chunks; ++c) {
      double s = 0;
      const std::size_t end = std::min(n, (c + 1) * kChunk);
      for (std::size_t i = c * kChunk; i < end; ++i) s += double(x[i]) * double(x[i]);
      part[c] = s;
    }
    double total = 0;
    for (double s : part) total += s;
    return total;
  }
  static void scale(T* x, std::size_t n, T s) {
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < n; ++i) x[i] *= s;
  }
};

}  // namespace mixln::cpu
