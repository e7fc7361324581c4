// mixln/cpu/backend.hpp — the CPU backend: fp32 (or fp64 for tests), OpenBLAS, OpenMP.
//
// A backend is a tag type with the ops the engine and the branches call (backend_ops.hpp lists
// them); the CUDA backend offers the same names over device memory. cpu::Backend<T> inherits
// them from its op families — each cpu/*.hpp kernel is a static member of one — and adds the
// memory ops and the optimizer's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <array>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "../buffer.hpp"
#include "../precision.hpp"
#include "../math/adamw.hpp"
#include "attention.hpp"
#include "bias.hpp"
#include "boundary.hpp"
#include "cross_entropy.hpp"
#include "embedding.hpp"
#include "gemm.hpp"
#include "mlp.hpp"
#include "norm_rows.hpp"

namespace mixln::cpu {

template <class T>
struct Backend : EmbeddingOps<T>,
                 BoundaryOps<T>,
                 NormRowsOps<T>,
                 MapOps<T>,
                 LinearOps<T>,
                 BiasOps<T>,
                 AttentionOps<T>,
                 SwigluOps<T>,
                 CrossEntropyOps<T> {
  using scalar = T;
  template <class U>
  using buffer = AlignedBuffer<U>;
  static constexpr const char* name = "cpu";
  static constexpr bool host_memory = true;
  // Under --precision bf16 (float only) the GEMM-operand activations are stored in bf16
  // (act_ptr.hpp; the arena's ActivationType::gemm slots and the logits).
  static constexpr bool bf16_activations = std::is_same_v<T, float>;
  // GEMM input precisions, the default first: fp32 (sgemm; dgemm for T = double) and, in
  // float, bf16 (rounded inputs, fp32 accumulation: gemm_bf16.hpp).
  static constexpr auto precisions = [] {
    if constexpr (std::is_same_v<T, float>)
      return std::array{Precision::fp32, Precision::bf16};
    else
      return std::array{Precision::fp32};
  }();

  template <class U>
  static void zero(U* p, std::size_t n) { std::memset(p, 0, n * sizeof(U)); }
  static void synchronize() {}
  // "OpenBLAS 0.3.21 ... (Haswell kernels)", and the bf16 GEMM engine with bf16, for benchmark
  // records.
  static std::string describe(Precision precision) {
#if defined(OPENBLAS_VERSION)
    std::string cfg = openblas_get_config();
    while (!cfg.empty() && cfg.back() == ' ') cfg.pop_back();
    cfg += " (" + std::string(openblas_get_corename()) + " kernels)";
    if (std::is_same_v<T, float> && precision == Precision::bf16) cfg += "; bf16 GEMMs: " + bf16_gemm_description();
    return cfg;
#else
    (void)precision;
    return "CBLAS";
#endif
  }
  template <class U>
  static void copy_to_device(U* dst, const U* src, std::size_t n) { std::memcpy(dst, src, n * sizeof(U)); }
  template <class U>
  static void copy_to_host(U* dst, const U* src, std::size_t n) { std::memcpy(dst, src, n * sizeof(U)); }
  // Host data the ops read (tokens or pixels, labels): on the CPU, used where it is.
  template <class U>
  static const U* stage(buffer<U>&, const U* host, std::size_t) {
    return host;
  }

  // --- optimizer support ---------------------------------------------------------------------
  // Every chunk of the flat buffer in one call; nothing changes unless both values at
  // finite_check (the loss sum and the squared gradient norm) are finite (nullptr: no check).
  static void adam_update(T* p, const T* g, T* m, T* v, const AdamChunk* chunks, int num_chunks, const AdamHyper& h,
                          const double* finite_check) {
    if (finite_check && !(std::isfinite(finite_check[0]) && std::isfinite(finite_check[1]))) return;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < num_chunks; ++c) {
      const AdamChunk k = chunks[c];
      for (std::size_t i = 0; i < k.count; ++i)
        mixln::adam_update(p[k.param + i], g[k.param + i], m[k.moment + i], v[k.moment + i], h, k.decay != 0);
    }
  }
  // *out = Σ x² in double, in a fixed order (chunks summed in sequence).
  static void sum_squares(const T* x, std::size_t n, double* out) {
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
    *out = total;
  }
  // Scales x so that the norm √(*sum_squares) becomes at most max_norm (no-op when max_norm ≤ 0).
  static void clip_to_norm(T* x, std::size_t n, const double* sum_squares, double max_norm) {
    const double norm = std::sqrt(*sum_squares);
    if (!(max_norm > 0 && norm > max_norm)) return;
    const T s = T(max_norm / (norm + 1e-6));
#pragma omp parallel for schedule(static)
    for (std::size_t i = 0; i < n; ++i) x[i] *= s;
  }
};

}  // namespace mixln::cpu
