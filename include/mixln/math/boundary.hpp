// mixln/math/boundary.hpp — the fused op at a boundary between two sub-layers.
//
// Between the branch F of one sub-layer and the branch of the next, every placement does
// some of these row-local steps (x: stream entering the previous sub-layer, f: its branch
// output, x₀: the stream entering the layer, for skip connections):
//
//   g = branch_norm ? N_b(f) : f                       Sandwich-LN's norm on F's output
//   s = (residual ? a·x : 0) + g + (skip ? x₀ : 0)     the residual add
//   y = end_norm ? N_e(s) : s                          Post-LN's norm after the add → stream
//   h = start_norm ? c·N_s(y) : y                      Pre-LN's norm before the next F
//
// One pass over the row does all of them; a BoundaryKind (a compile-time value) removes the
// steps a boundary does not have, so Post→Post, Pre→Pre and the Post→Pre transition of
// Mix-LN each compile to their own kernel. Layer 0's boundary has residual = false and f =
// the embedding; the last boundary's start norm is the model's final norm.
//
// Invariants: activations are written (=), norm-weight gradients accumulate (+=), and the
// stream gradient dx may alias dy_ext (each j is read before it is written).
#pragma once

#include "../config.hpp"
#include "rmsnorm.hpp"

namespace mixln {

struct BoundaryKind {
  bool residual = true;       // s includes a·x (false only where the embedding enters)
  bool branch_norm = false;   // g = N_b(f)
  bool end_norm = false;      // y = N_e(s)
  bool start_norm = false;    // h = c·N_s(y); otherwise h is y itself
  bool skip = false;          // s += x₀, the stream entering this layer
  bool skip_grad_in = false;  // y is a layer input that a later boundary skips to
  constexpr bool operator==(const BoundaryKind&) const = default;
};

// A BoundaryKind as 6 bits (residual 1, branch_norm 2, end_norm 4, start_norm 8, skip 16,
// skip_grad_in 32) and back: the CUDA backend names its 64 kernel instantiations this way.
constexpr int kind_bits(const BoundaryKind& K) {
  return int(K.residual) | int(K.branch_norm) << 1 | int(K.end_norm) << 2 | int(K.start_norm) << 3 |
         int(K.skip) << 4 | int(K.skip_grad_in) << 5;
}
constexpr BoundaryKind kind_of_bits(int bits) {
  return {.residual = bool(bits & 1),
          .branch_norm = bool(bits & 2),
          .end_norm = bool(bits & 4),
          .start_norm = bool(bits & 8),
          .skip = bool(bits & 16),
          .skip_grad_in = bool(bits & 32)};
}

// Pointers already offset to one row, length n.
template <class T>
struct BoundaryForwardRow {
  const T* x;   // stream entering the previous sub-layer     (residual)
  const T* f;   // its branch output F(·)
  const T* x0;  // stream entering the layer                  (skip)
  const T* wb;  // branch norm weight                         (branch_norm)
  const T* we;  // end norm weight                            (end_norm)
  const T* ws;  // start norm weight                          (start_norm)
  T* s;         // pre-norm sum, kept for backward            (end_norm; else s is y)
  T* y;         // new stream
  T* h;         // input of the next branch                   (start_norm; else h is y)
  T a, c;       // residual scale, start-norm scale
};

// Per-row statistics saved for backward: the rstd of each norm.
template <class T>
struct BoundaryStats {
  T rb = 1, re = 1, rs = 1;
};

template <BoundaryKind K, class Row, class T>
MIXLN_HD BoundaryStats<T> boundary_forward_row(const Row& row, const BoundaryForwardRow<T>& p) {
  BoundaryStats<T> st;
  if constexpr (K.branch_norm)
    st.rb = rms_rstd(row.sum([&](int j) { return p.f[j] * p.f[j]; }), row.n);
  auto sum_at = [&](int j) {
    T g = p.f[j];
    if constexpr (K.branch_norm) g = g * st.rb * p.wb[j];
    T v = g;
    if constexpr (K.residual) v += p.a * p.x[j];
    if constexpr (K.skip) v += p.x0[j];
    return v;
  };
  T* s = K.end_norm ? p.s : p.y;
  if constexpr (K.end_norm) {
    st.re = rms_rstd(row.sum([&](int j) {
                       const T v = sum_at(j);
                       s[j] = v;
                       return v * v;
                     }),
                     row.n);
    if constexpr (K.start_norm) {
      st.rs = rms_rstd(row.sum([&](int j) {
                         const T v = s[j] * st.re * p.we[j];
                         p.y[j] = v;
                         return v * v;
                       }),
                       row.n);
    } else {
      row.each([&](int j) { p.y[j] = s[j] * st.re * p.we[j]; });
    }
  } else if constexpr (K.start_norm) {
    st.rs = rms_rstd(row.sum([&](int j) {
                       const T v = sum_at(j);
                       p.y[j] = v;
                       return v * v;
                     }),
                     row.n);
  } else {
    row.each([&](int j) { p.y[j] = sum_at(j); });
  }
  if constexpr (K.start_norm) {
    const T scale = p.c * st.rs;
    row.each([&](int j) { p.h[j] = p.y[j] * scale * p.ws[j]; });
  }
  return st;
}

template <class T>
struct BoundaryBackwardRow {
  const T* dy_ext;   // gradient of y from the stream beyond this boundary
  const T* dskip_in; // gradient of y from a later skip               (skip_grad_in)
  const T* dh;       // gradient of h from the next branch
  const T* f;        // saved branch output                           (branch_norm)
  const T* s;        // saved sum                                     (end_norm)
  const T* y;        // saved stream                                  (start_norm)
  const T* wb;
  const T* we;
  const T* ws;
  T* dx;        // gradient of x, may alias dy_ext                    (residual)
  T* dskip_out; // gradient of x₀                                      (skip)
  T* df;        // gradient of the branch output f
  T* dwb;       // += gradient of wb                                   (branch_norm)
  T* dwe;       // += gradient of we                                   (end_norm)
  T* dws;       // += gradient of ws                                   (start_norm)
  T* tmp;       // scratch row
  T a, c;
  BoundaryStats<T> st;
};

template <BoundaryKind K, class Row, class T>
MIXLN_HD void boundary_backward_row(const Row& row, const BoundaryBackwardRow<T>& p) {
  const T inv_n = T(1) / T(row.n);
  T* t = p.tmp;
  // 1. dy = dy_ext (+ dskip_in) + (dh through the start norm, or dh itself).
  auto dy_base = [&](int j) {
    T v = p.dy_ext[j];
    if constexpr (K.skip_grad_in) v += p.dskip_in[j];
    return v;
  };
  if constexpr (K.start_norm) {
    const T cs = p.c * p.st.rs;
    const T m = row.sum([&](int j) { return p.dh[j] * p.ws[j] * p.y[j]; }) * cs * inv_n;
    row.each([&](int j) {
      const T xh = p.y[j] * p.st.rs;
      p.dws[j] += p.c * p.dh[j] * xh;
      t[j] = dy_base(j) + cs * p.dh[j] * p.ws[j] - p.st.rs * xh * m;
    });
  } else {
    row.each([&](int j) { t[j] = dy_base(j) + p.dh[j]; });
  }
  // 2. ds: back through the end norm.
  if constexpr (K.end_norm) {
    const T m = row.sum([&](int j) { return t[j] * p.we[j] * p.s[j]; }) * p.st.re * inv_n;
    row.each([&](int j) {
      const T xh = p.s[j] * p.st.re;
      p.dwe[j] += t[j] * xh;
      t[j] = p.st.re * (t[j] * p.we[j] - xh * m);
    });
  }
  // 3. split ds into the residual, the skip and the branch.
  T mb = 0;
  if constexpr (K.branch_norm)
    mb = row.sum([&](int j) { return t[j] * p.wb[j] * p.f[j]; }) * p.st.rb * inv_n;
  row.each([&](int j) {
    const T ds = t[j];
    if constexpr (K.residual) p.dx[j] = p.a * ds;
    if constexpr (K.skip) p.dskip_out[j] = ds;
    if constexpr (K.branch_norm) {
      const T xh = p.f[j] * p.st.rb;
      p.dwb[j] += ds * xh;
      p.df[j] = p.st.rb * (ds * p.wb[j] - xh * mb);
    } else {
      p.df[j] = ds;
    }
  });
}

}  // namespace mixln
