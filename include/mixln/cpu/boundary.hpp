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
    const std::size_t o = std::size_t(r) * n;
    BoundaryForwardRow<T> p{K.residual ? b.x + o : nullptr,
                            b.f + o,
                            K.skip ? b.x0 + o : nullptr,
                            b.wb,
                            b.we,
                            b.ws,
                            K.end_norm ? b.s + o : nullptr,
                            b.y + o,
                            K.start_norm ? b.h + o : nullptr,
                            b.a,
                            b.c};
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
      const std::size_t o = std::size_t(r) * n;
      const T* stats = b.stats + 3 * std::size_t(r);
      BoundaryBackwardRow<T> p{g.dy_ext + o,
                               K.skip_grad_in ? g.dskip_in + o : nullptr,
                               g.dh + o,
                               K.branch_norm ? b.f + o : nullptr,
                               K.end_norm ? b.s + o : nullptr,
                               K.start_norm ? b.y + o : nullptr,
                               b.wb,
                               b.we,
                               b.ws,
                               K.residual ? g.dx + o : nullptr,
                               K.skip ? g.dskip_out + o : nullptr,
                               g.df + o,
                               part,
                               part + n,
                               part + 2 * std::size_t(n),
                               part + 3 * std::size_t(n),
                               b.a,
                               b.c,
                               {stats[0], stats[1], stats[2]}};
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
