// mixln/cpu/boundary.hpp — the fused residual-add + norms boundary over all rows, on the CPU.
//
// Rows run in parallel. Norm-parameter gradients are first summed per chunk of kRowsPerChunk
// rows, then the chunks are added in order: the result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstddef>

#include "../math/boundary.hpp"
#include "../math/row.hpp"
#include "../math/row_chunks.hpp"

namespace mixln::cpu {

// dw[p][j] += Σ over chunks of partials[ch][p][j], chunks in order, for every parameter p of
// a list with `params` entries (a scalar parameter: j = 0 only).
template <class T, class PerChannel>
void reduce_norm_partials(int chunks, int n, int params, const T* partials, T* const* dw, const PerChannel& per_channel) {
  const std::size_t stride = std::size_t(params + 1) * n;
#pragma omp parallel for schedule(static)
  for (int j = 0; j < n; ++j)
    for (int p = 0; p < params; ++p) {
      if (!per_channel[std::size_t(p)] && j > 0) continue;
      T acc = 0;
      for (int ch = 0; ch < chunks; ++ch) acc += partials[std::size_t(ch) * stride + std::size_t(p) * n + j];
      dw[p][j] += acc;
    }
}

// The op family of cpu::Backend<T> (backend_ops.hpp).
template <class T>
struct BoundaryOps {
  template <class Spec>
  static void boundary_forward(int rows, int n, const BoundaryArgs<Spec, T>& b) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) boundary_forward_row<Spec>(SerialRow{n}, b, std::size_t(r));
  }

  template <class Spec>
  static void boundary_backward(int rows, int n, const BoundaryArgs<Spec, T>& b, const BoundaryGradArgs<Spec, T>& g) {
    const int chunks = row_chunks(rows);
    constexpr int P = Spec::num_params;
    const std::size_t stride = std::size_t(P + 1) * n;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < chunks; ++ch) {
      T* part = g.partials + std::size_t(ch) * stride;
      std::fill(part, part + std::size_t(P) * n, T(0));
      const int r1 = std::min(rows, (ch + 1) * kRowsPerChunk);
      for (int r = ch * kRowsPerChunk; r < r1; ++r) boundary_backward_row<Spec>(SerialRow{n}, b, g, std::size_t(r), part);
    }
    if constexpr (P > 0) reduce_norm_partials(chunks, n, P, g.partials, g.dw, Spec::norms::per_channel);
  }
};

}  // namespace mixln::cpu
