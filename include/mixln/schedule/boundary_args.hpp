// mixln/schedule/boundary_args.hpp — the arguments of a boundary op over all rows, shared by
// the backends: pointers to whole [rows, n] buffers, nullptr where the kind has no such tensor.
#pragma once

#include <cstddef>

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

}  // namespace mixln
