// mixln/cpu/norm_rows.hpp — one norm over rows inside a larger buffer (QK-norm), a strided row
// copy, and elementwise activations, on the CPU.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "../math/norm_rows.hpp"
#include "../math/row.hpp"
#include "../math/row_chunks.hpp"
#include "boundary.hpp"

namespace mixln::cpu {

// The op families of cpu::Backend<T> (backend_ops.hpp).
template <class T>
struct NormRowsOps {
  // y.row(i) = N(x.row(i)) for rows i of n elements; statistics to stats [rows, num_stats].
  template <class N>
  static void norm_rows_forward(int rows, int n, RowsView<const T> x, RowsView<T> y, T* const* w, T* stats) {
    constexpr int P = int(N::params.size());
    const T* wc[P + 1];
    for (int p = 0; p < P; ++p) wc[p] = w[p];
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; ++i)
      norm_row_forward<N>(SerialRow{n}, x.row(std::size_t(i), n), y.row(std::size_t(i), n), wc,
                          stats + std::size_t(i) * N::num_stats);
  }

  // dx.row(i) = backward of row i (dx may be dy); parameter gradients += into dw through
  // per-chunk partials [row_chunks(rows), P + 1, n].
  template <class N>
  static void norm_rows_backward(int rows, int n, RowsView<const T> x, const T* stats, T* const* w, RowsView<const T> dy,
                                 RowsView<T> dx, T* const* dw, T* partials) {
    constexpr int P = int(N::params.size());
    const T* wc[P + 1];
    for (int p = 0; p < P; ++p) wc[p] = w[p];
    const int chunks = row_chunks(rows);
    const std::size_t stride = std::size_t(P + 1) * n;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < chunks; ++ch) {
      T* part = partials + std::size_t(ch) * stride;
      std::fill(part, part + std::size_t(P) * n, T(0));
      T* dwp[P + 1];
      for (int p = 0; p < P; ++p) dwp[p] = part + std::size_t(p) * n;
      const int r1 = std::min(rows, (ch + 1) * kRowsPerChunk);
      for (int i = ch * kRowsPerChunk; i < r1; ++i)
        norm_row_backward<N>(SerialRow{n}, x.row(std::size_t(i), n), stats + std::size_t(i) * N::num_stats, wc,
                             dy.row(std::size_t(i), n), dx.row(std::size_t(i), n), dwp);
    }
    if constexpr (P > 0) {
      constexpr auto per_channel = [] {
        std::array<bool, P + 1> out{};
        for (int p = 0; p < P; ++p) out[std::size_t(p)] = N::params[std::size_t(p)].per_channel;
        return out;
      }();
      reduce_norm_partials(chunks, n, P, partials, dw, per_channel);
    }
  }

  static void copy_rows(int rows, int n, RowsView<const T> src, RowsView<T> dst) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; ++i) std::memcpy(dst.row(std::size_t(i), n), src.row(std::size_t(i), n), sizeof(T) * n);
  }
};

template <class T>
struct MapOps {
  // y[i] = Op::forward(x[i]);  dx[i] = Op::backward(x[i], dy[i])  (dx may be dy)
  template <class Op>
  static void map_forward(std::size_t n, const T* x, T* y) {
#pragma omp parallel for simd schedule(static)
    for (std::size_t i = 0; i < n; ++i) y[i] = Op::forward(x[i]);
  }
  template <class Op>
  static void map_backward(std::size_t n, const T* x, const T* dy, T* dx) {
#pragma omp parallel for simd schedule(static)
    for (std::size_t i = 0; i < n; ++i) dx[i] = Op::backward(x[i], dy[i]);
  }
};

}  // namespace mixln::cpu
