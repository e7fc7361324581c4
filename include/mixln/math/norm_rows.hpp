// mixln/math/norm_rows.hpp — one norm applied to rows that sit inside a larger buffer, such as
// the heads of the query projection (QK-norm), and its backward.
//
// A RowsView names rows of n elements: row i starts at p + (i / groups)·ld + (i % groups)·n.
//   per-head q of a [R, 3C] projection:  groups = H, n = D, ld = 3C   (R·H rows)
//   full-width k of the same:            p + C, groups = 1, n = C, ld = 3C   (R rows)
// The norm's parameters have n elements per channel, shared by all rows.
#pragma once

#include <cstddef>

#include "../config.hpp"

namespace mixln {

template <class T>
struct RowsView {
  T* p = nullptr;
  int groups = 1;       // rows per line of the buffer (heads)
  std::size_t ld = 0;   // elements from one line to the next
  MIXLN_HD T* row(std::size_t i, int n) const { return p + (i / groups) * ld + (i % groups) * std::size_t(n); }
};

// y = N(x) for row i; its statistics to st_out[0, num_stats).
template <class N, class Row, class T>
MIXLN_HD void norm_row_forward(const Row& row, const T* x, T* y, const T* const* w, T* st_out) {
  T st[N::num_stats + 1];
  N::statistics(row, [&](int j) { return x[j]; }, x, st);
  row.each([&](int j) { y[j] = N::apply(st, x[j], j, w); });
  if constexpr (N::num_stats > 0) {
    if (row.leader())
      for (int i = 0; i < N::num_stats; ++i) st_out[i] = st[i];
  }
}

// dx = dN/dx · dy for one row (dx may be dy itself); parameter gradients += into the partial
// rows dw[p] (n elements each; a scalar parameter at [0]).
template <class N, class Row, class T>
MIXLN_HD void norm_row_backward(const Row& row, const T* x, const T* st, const T* const* w, const T* dy, T* dx,
                                T* const* dw) {
  N::backward(row, x, st, w, [&](int j) { return dy[j]; }, [&](int j, T v) { dx[j] = v; }, dw);
}

}  // namespace mixln
