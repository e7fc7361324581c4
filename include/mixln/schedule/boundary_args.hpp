// mixln/schedule/boundary_args.hpp — the arguments of a boundary op over all rows, shared by
// the backends: pointers to whole [rows, n] buffers, nullptr where the kind has no such tensor.
#pragma once

#include <cstddef>

#include "../config.hpp"
#include "../math/boundary.hpp"

namespace mixln {

// Norm-weight gradients are summed per chunk of this many rows, then the chunks in order, so
// the result does not depend on how rows are spread over threads or thread blocks.
inline constexpr int kRowsPerChunk = 32;
inline int row_chunks(int rows) { return (rows + kRowsPerChunk - 1) / kRowsPerChunk; }

template <class T>
struct BoundaryBuffers {
  const T* x = nullptr;   // [rows, n] stream entering the previous sub-layer
  const T* f = nullptr;   // [rows, n] its branch output
  const T* x0 = nullptr;  // [rows, n] stream entering the layer (skip)
  T* s = nullptr;         // [rows, n] pre-norm sum
  T* y = nullptr;         // [rows, n] new stream
  T* h = nullptr;         // [rows, n] next branch input
  T* stats = nullptr;     // [rows, 3]: rb, re, rs
  const T* wb = nullptr;  // [n]
  const T* we = nullptr;
  const T* ws = nullptr;
  T a = 1, c = 1;
};

template <class T>
struct BoundaryGradBuffers {
  const T* dy_ext = nullptr;    // [rows, n]
  const T* dskip_in = nullptr;  // [rows, n]
  const T* dh = nullptr;        // [rows, n]
  T* dx = nullptr;              // [rows, n], may alias dy_ext
  T* dskip_out = nullptr;       // [rows, n], may alias dskip_in
  T* df = nullptr;              // [rows, n]
  T* dwb = nullptr;             // [n] +=
  T* dwe = nullptr;
  T* dws = nullptr;
  T* partials = nullptr;        // [row_chunks(rows), 4, n] scratch: 3 weight grads + a tmp row
};

// The arguments of the per-row functions (math/boundary.hpp) for the row at element offset o.
template <BoundaryKind K, class T>
MIXLN_HD BoundaryForwardRow<T> forward_row_args(const BoundaryBuffers<T>& b, std::size_t o) {
  return {K.residual ? b.x + o : nullptr,
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
}

// For row r of n elements; `part` is the row chunk's [4, n] scratch (3 weight-gradient rows
// and a tmp row).
template <BoundaryKind K, class T>
MIXLN_HD BoundaryBackwardRow<T> backward_row_args(const BoundaryBuffers<T>& b, const BoundaryGradBuffers<T>& g,
                                                  std::size_t r, int n, T* part) {
  const std::size_t o = r * std::size_t(n);
  const T* stats = b.stats + 3 * r;
  return {g.dy_ext + o,
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
}

}  // namespace mixln
