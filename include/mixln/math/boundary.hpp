// mixln/math/boundary.hpp — the fused op at a boundary between two sub-layers.
//
// Between the branch F of one sub-layer and the branch of the next, every placement does some
// of these row-local steps (x: stream entering the previous sub-layer, f: its branch output,
// x₀: the stream entering the layer, for skip connections; each N is a chain of zero or more
// norms of any kinds, applied in order):
//
//   g = N_branch(f)                                   norms on F's output   (Sandwich, OLMo 2)
//   s = (residual ? a·x : 0) + g + (skip ? x₀ : 0)    the residual add
//   y = N_end(s)                                      norms after the add   (Post-LN) → stream
//   h = c · N_start(y)                                norms before the next F (Pre-LN); with
//                                                     no start norm h is y itself
//
// One pass over the row per norm statistic does all of them: a norm's input is stored while
// its statistics are gathered, and its output is consumed element by element by the next
// step, never stored unless it is the stream y or the branch input h. A BoundarySpec (a type)
// says which steps a boundary has, so Post→Post, Pre→Pre and the Post→Pre transition of
// Mix-LN each compile to their own code; layer 0's boundary has residual = false and f = the
// embedding; the last boundary's start norm is the model's final norm.
//
// Kept for backward: the input of every norm (f for the first branch norm, s for the first
// end norm, y for the first start norm, a buffer of its own for a norm inside a chain) and
// each norm's per-row statistics.
//
// Invariants: activations are written (=), norm-parameter gradients accumulate (+=) through
// per-chunk partial rows, and the stream gradient dx may alias dy_ext (and dskip_out alias
// dskip_in): each element is read before the same thread writes it.
#pragma once

#include <cstddef>

#include "../config.hpp"
#include "norm_list.hpp"

namespace mixln {

template <bool Residual, bool Skip, bool SkipGradIn, class BranchNorms, class EndNorms, class StartNorms>
struct BoundarySpec {
  static constexpr bool residual = Residual;       // s includes a·x (false where the embedding enters)
  static constexpr bool skip = Skip;               // s includes x₀, the stream entering this layer
  static constexpr bool skip_grad_in = SkipGradIn; // y is a layer input that a later boundary skips to
  using branch_norms = BranchNorms;
  using end_norms = EndNorms;
  using start_norms = StartNorms;
  // All norms in order: branch, end, start.
  using norms = concat_norm_lists<concat_norm_lists<BranchNorms, EndNorms>, StartNorms>;
  static constexpr int nb = BranchNorms::size, ne = EndNorms::size, ns = StartNorms::size;
  static constexpr int first_end = nb, first_start = nb + ne;
  static constexpr int num_norms = norms::size, num_params = norms::num_params, num_stats = norms::num_stats;
};

template <class Spec>
inline constexpr bool boundary_has_norms = Spec::num_norms > 0;

// Whole-buffer arguments of a boundary; nullptr where the spec has no such tensor.
template <class Spec, class T>
struct BoundaryArgs {
  const T* x = nullptr;   // [rows, n] stream entering the previous sub-layer       (residual)
  const T* f = nullptr;   // [rows, n] its branch output; boundary 0: the embedding
  const T* x0 = nullptr;  // [rows, n] stream entering the layer                    (skip)
  T* y = nullptr;         // [rows, n] the new stream
  T* h = nullptr;         // [rows, n] the next branch's input                      (start norms)
  // [rows, n] where norm i's input is kept: f for the first branch norm (never written), the
  // pre-norm sum s for the first end norm, y for the first start norm, its own buffer inside
  // a chain.
  T* in[Spec::num_norms + 1] = {};
  const T* w[Spec::num_params + 1] = {};  // every norm's parameters, in order
  T* stats = nullptr;                      // [rows, num_stats]
  T a = 1, c = 1;                          // residual scale, start-norm scale
};

template <class Spec, class T>
struct BoundaryGradArgs {
  const T* dy_ext = nullptr;    // [rows, n] gradient of y from the stream beyond this boundary
  const T* dskip_in = nullptr;  // [rows, n] gradient of y from a later skip         (skip_grad_in)
  const T* dh = nullptr;        // [rows, n] gradient of h from the next branch
  T* dx = nullptr;              // [rows, n] gradient of x, may alias dy_ext          (residual)
  T* dskip_out = nullptr;       // [rows, n] gradient of x₀, may alias dskip_in       (skip)
  T* df = nullptr;              // [rows, n] gradient of f
  T* dw[Spec::num_params + 1] = {};  // += gradient of every norm parameter, in order
  T* partials = nullptr;        // [partial_rows(rows), num_params + 1, n] scratch
};

namespace detail {

template <class T, int S>
struct StatsCopy {
  T v[S > 0 ? S : 1];
};
template <class T, int P>
struct ParamsCopy {
  const T* v[P > 0 ? P : 1];
};

// Forward through norms [I, End) of the spec's list; in(j) produces the input of norm I. Each
// norm's input is stored to its buffer while its statistics are gathered (except norm I's
// when Stored: it is in memory already). Returns a callable j → the last norm's output, or
// `in` itself when the range is empty.
template <class Norms, int I, int End, bool Stored, class Row, class In, class T>
MIXLN_HD auto norm_chain_forward(const Row& row, In in, T* const* bufs, const T* const* w, T* st) {
  if constexpr (I == End) {
    return in;
  } else {
    using N = typename Norms::template at<I>;
    T* x = bufs[I];
    T* s = st + Norms::template stat_offset<I>;
    const T* const* wp = w + Norms::template param_offset<I>;
    if constexpr (Stored) {
      N::statistics(row, in, x, s);
    } else {
      N::statistics(
          row,
          [&](int j) {
            const T v = in(j);
            x[j] = v;
            return v;
          },
          x, s);
    }
    // The statistics and parameter pointers go into the closure by value: read from the stack
    // array inside the element loop, the compiler could not keep them in registers across the
    // stores of the next step, and that loop would not vectorise.
    StatsCopy<T, N::num_stats> stv;
    for (int i = 0; i < N::num_stats; ++i) stv.v[i] = s[i];
    ParamsCopy<T, int(N::params.size())> wv;
    for (int p = 0; p < int(N::params.size()); ++p) wv.v[p] = wp[p];
    return norm_chain_forward<Norms, I + 1, End, false>(
        row, [=](int j) { return N::apply(stv.v, x[j], j, wv.v); }, bufs, w, st);
  }
}

// Backward through norms I, I−1, ..., Lo of the list (I ≥ Lo): dout(j) is the gradient of norm
// I's output; every norm's input gradient goes to the tmp row t, but norm Lo's, which goes to
// din_last(j, v).
template <class Norms, int I, int Lo, class Row, class DOut, class DIn, class T>
MIXLN_HD void norm_chain_backward(const Row& row, DOut dout, DIn din_last, T* t, const T* const* in,
                                  const T* const* w, const T* st, T* const* dw) {
  using N = typename Norms::template at<I>;
  const T* x = in[I];
  const T* s = st + Norms::template stat_offset<I>;
  const T* const* wp = w + Norms::template param_offset<I>;
  T* const* dwp = dw + Norms::template param_offset<I>;
  if constexpr (I == Lo) {
    N::backward(row, x, s, wp, dout, din_last, dwp);
  } else {
    N::backward(row, x, s, wp, dout, [&](int j, T v) { t[j] = v; }, dwp);
    norm_chain_backward<Norms, I - 1, Lo>(row, [&](int j) { return t[j]; }, din_last, t, in, w, st, dw);
  }
}

}  // namespace detail

// Boundary forward for row r (n = row.n elements).
template <class Spec, class Row, class T>
MIXLN_HD void boundary_forward_row(const Row& row, const BoundaryArgs<Spec, T>& b, std::size_t r) {
  using Norms = typename Spec::norms;
  constexpr int nb = Spec::nb, ne = Spec::ne, ns = Spec::ns;
  const std::size_t o = r * std::size_t(row.n);
  T* in[Spec::num_norms + 1];
  for (int i = 0; i < Spec::num_norms; ++i) in[i] = b.in[i] + o;
  T st[Spec::num_stats + 1];
  const T* f = b.f + o;
  const T* x = nullptr;
  const T* x0 = nullptr;
  if constexpr (Spec::residual) x = b.x + o;
  if constexpr (Spec::skip) x0 = b.x0 + o;
  const T a = b.a;
  auto g = detail::norm_chain_forward<Norms, 0, nb, true>(row, [&](int j) { return f[j]; }, in, b.w, st);
  auto s = [&](int j) {
    T v = g(j);
    if constexpr (Spec::residual) v += a * x[j];
    if constexpr (Spec::skip) v += x0[j];
    return v;
  };
  auto y = detail::norm_chain_forward<Norms, nb, nb + ne, false>(row, s, in, b.w, st);
  if constexpr (ns > 0) {  // y is stored as the first start norm's input
    auto h = detail::norm_chain_forward<Norms, nb + ne, nb + ne + ns, false>(row, y, in, b.w, st);
    T* hp = b.h + o;
    const T c = b.c;
    row.each([&](int j) { hp[j] = c * h(j); });
  } else {
    T* yp = b.y + o;
    row.each([&](int j) { yp[j] = y(j); });
  }
  if constexpr (Spec::num_stats > 0) {
    if (row.leader())
      for (int i = 0; i < Spec::num_stats; ++i) b.stats[r * Spec::num_stats + i] = st[i];
  }
}

// Boundary backward for row r. `part` is the row's chunk scratch [num_params + 1, n]: one row
// of partial sums per norm parameter, then a tmp row.
template <class Spec, class Row, class T>
MIXLN_HD void boundary_backward_row(const Row& row, const BoundaryArgs<Spec, T>& b,
                                    const BoundaryGradArgs<Spec, T>& g, std::size_t r, T* part) {
  using Norms = typename Spec::norms;
  constexpr int nb = Spec::nb, ne = Spec::ne, ns = Spec::ns;
  const int n = row.n;
  const std::size_t o = r * std::size_t(n);
  T* t = part + std::size_t(Spec::num_params) * n;
  T* dw[Spec::num_params + 1];
  for (int p = 0; p < Spec::num_params; ++p) dw[p] = part + std::size_t(p) * n;
  const T* in[Spec::num_norms + 1];
  for (int i = 0; i < Spec::num_norms; ++i) in[i] = b.in[i] + o;
  T st[Spec::num_stats + 1] = {};  // zeroed: norms without statistics are handed the spare slot
  for (int i = 0; i < Spec::num_stats; ++i) st[i] = b.stats[r * Spec::num_stats + i];
  const T* dy_ext = g.dy_ext + o;
  const T* dh = g.dh + o;
  const T* dskip_in = nullptr;
  if constexpr (Spec::skip_grad_in) dskip_in = g.dskip_in + o;
  auto dy_more = [&](int j) {
    T v = dy_ext[j];
    if constexpr (Spec::skip_grad_in) v += dskip_in[j];
    return v;
  };
  auto read_t = [&](int j) { return t[j]; };
  auto write_t = [&](int j, T v) { t[j] = v; };
  // 1. dL/dy = dy_ext (+ dskip_in) + dh back through the start norms (dh itself without them).
  if constexpr (ns > 0) {
    const T c = b.c;
    detail::norm_chain_backward<Norms, nb + ne + ns - 1, nb + ne>(
        row, [&](int j) { return c * dh[j]; }, [&](int j, T v) { t[j] = v + dy_more(j); }, t, in, b.w, st, dw);
  } else {
    row.each([&](int j) { t[j] = dh[j] + dy_more(j); });
  }
  // 2. dL/ds: back through the end norms.
  if constexpr (ne > 0) detail::norm_chain_backward<Norms, nb + ne - 1, nb>(row, read_t, write_t, t, in, b.w, st, dw);
  // 3. split ds into the residual, the skip and the branch.
  T* dx = nullptr;
  T* dskip = nullptr;
  T* df = g.df + o;
  if constexpr (Spec::residual) dx = g.dx + o;
  if constexpr (Spec::skip) dskip = g.dskip_out + o;
  const T a = b.a;
  row.each([&](int j) {
    const T ds = t[j];
    if constexpr (Spec::residual) dx[j] = a * ds;
    if constexpr (Spec::skip) dskip[j] = ds;
    if constexpr (nb == 0) df[j] = ds;
  });
  // 4. back through the branch norms to df.
  if constexpr (nb > 0)
    detail::norm_chain_backward<Norms, nb - 1, 0>(row, read_t, [&](int j, T v) { df[j] = v; }, t, in, b.w, st, dw);
}

}  // namespace mixln
