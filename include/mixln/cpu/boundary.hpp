// mixln/cpu/boundary.hpp — the fused residual-add + norm boundary over all rows, on the CPU.
//
// Rows run in parallel. Norm-weight gradients are first summed per chunk of kRowsPerChunk
// rows, then the chunks are added in order: the result does not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstddef>

#include "../math/boundary.hpp"
#include "../math/row.hpp"
#include "../schedule/boundary_args.hpp"

namespace mixln::cpu {

using mixln::BoundaryBuffers;
using mixln::BoundaryGradBuffers;
using mixln::row_chunks;
using mixln::kRowsPerChunk;

template <BoundaryKind K, class T>
void boundary_forward(int rows, int n, const BoundaryBuffers<T>& b) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const auto p = forward_row_args<K>(b, std::size_t(r) * n);
    const auto st = boundary_forward_row<K>(SerialRow{n}, p);
    T* stats = b.stats + 3 * std::size_t(r);
    stats[0] = st.rb, stats[1] = st.re, stats[2] = st.rs;
  }
}

template <BoundaryKind K, class T>
void boundary_backward(int rows, int n, const BoundaryBuffers<T>& b,
                       const BoundaryGradBuffers<T>& g) {
  const int chunks = row_chunks(rows);
  constexpr bool any_norm = K.branch_norm || K.end_norm || K.start_norm;
#pragma omp parallel for schedule(static)
  for (int ch = 0; ch < chunks; ++ch) {
    T* part = g.partials + std::size_t(ch) * 4 * n;
    std::fill(part, part + 3 * std::size_t(n), T(0));
    const int r1 = std::min(rows, (ch + 1) * kRowsPerChunk);
    for (int r = ch * kRowsPerChunk; r < r1; ++r) {
      const auto p = backward_row_args<K>(b, g, std::size_t(r), n, part);
      boundary_backward_row<K>(SerialRow{n}, p);
    }
  }
  if constexpr (any_norm) {
    T* dws[3] = {g.dwb, g.dwe, g.dws};
    const bool has[3] = {K.branch_norm, K.end_norm, K.start_norm};
#pragma omp parallel for schedule(static)
    for (int j = 0; j < n; ++j)
      for (int w = 0; w < 3; ++w) {
        if (!has[w]) continue;
        T acc = 0;
        for (int ch = 0; ch < chunks; ++ch) acc += g.partials[(std::size_t(ch) * 4 + w) * n + j];
        dws[w][j] += acc;
      }
  }
}

}  // namespace mixln::cpu
