// mixln/math/norm_kinds.hpp — the norm kinds: RMSNorm, LayerNorm, DyT, as types.
//
// A norm kind normalises one row of n values (the residual stream of one token, or one head's
// query) and is written once for every backend, as MIXLN_HD functions over a row executor
// (math/row.hpp). A kind — the library's or a user's — has these members:
//
//   static constexpr const char* name;                    "RMSNorm"
//   static constexpr std::array<NormParam, P> params;      its parameters, P ≥ 0, in order
//   static constexpr int num_stats;                        per-row statistics kept for backward
//
//   template <class Row, class In, class T>
//   MIXLN_HD static void statistics(const Row& row, In&& in, const T* x, T* st);
//     Gathers the row's statistics into st[0, num_stats). in(j) yields input element j; call it
//     exactly once per j, inside the first row.sum/row.each pass (it may store the element to
//     x[j] as it goes, which is how a boundary fuses the residual add with the norm). After
//     that pass x[j] holds the row: later passes read x.
//   template <class T>
//   MIXLN_HD static T apply(const T* st, T x, int j, const T* const* w);
//     Output element j for input element x; w[p] points to parameter p (a per-channel
//     parameter has n elements, a scalar one 1).
//   template <class Row, class DOut, class DIn, class T>
//   MIXLN_HD static void backward(const Row& row, const T* x, const T* st, const T* const* w,
//                                 DOut&& dout, DIn&& din, T* const* dw);
//     dout(j) is the gradient of output j (it may be read several times); din(j, v) receives
//     the gradient of input j — call it once per j, in the last pass, after the last read of
//     dout(j) (din may write where dout reads). dw[p] is a row of partial sums for parameter
//     p: add dL/dw[p][j] at [j] for a per-channel parameter, and for a scalar one add the
//     row's total at [0] from `row.leader()` only.
//
// A row executor visits the same j on the same thread in every pass (math/row.hpp), which is
// what makes storing in one pass and reading in the next, and din aliasing dout, safe.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <ratio>

#include "../config.hpp"
#include "../hf_module.hpp"
#include "fast_tanh.hpp"

namespace mixln {

// One parameter of a norm kind: its name after the norm's (`.weight`), whether it has one
// value per channel ([n]) or a single one ([1]), and its initial value.
struct NormParam {
  const char* suffix;
  bool per_channel;
  double init;
  double init_width_power = 0;  // the initial value is init · C^init_width_power (C: its channels)
};

// y = x / √(mean(x²) + 1e-6) · w
struct RMSNorm {
  static constexpr const char* name = "RMSNorm";
  static constexpr HfModule hf_module{"MixlnRMSNorm"};  // the export's modeling_mixln.py
  static constexpr std::array<NormParam, 1> params = {{{"weight", true, 1.0}}};
  static constexpr int num_stats = 1;  // rstd
  static constexpr double eps = 1e-6;

  template <class Row, class In, class T>
  MIXLN_HD static void statistics(const Row& row, In&& in, const T* /*x*/, T* st) {
    using std::sqrt;
    const T ss = row.sum([&](int j) {
      const T v = in(j);
      return v * v;
    });
    st[0] = T(1) / sqrt(ss / T(row.n) + T(eps));
  }
  template <class T>
  MIXLN_HD static T apply(const T* st, T x, int j, const T* const* w) {
    return x * st[0] * w[0][j];
  }
  // x̂ = x·r;  dx = r·(g − x̂·mean(g·x̂)),  g = dy·w;  dw += dy·x̂
  template <class Row, class DOut, class DIn, class T>
  MIXLN_HD static void backward(const Row& row, const T* x, const T* st, const T* const* w, DOut&& dout, DIn&& din,
                                T* const* dw) {
    const T r = st[0];
    const T* wt = w[0];
    T* dwt = dw[0];
    const T m = row.sum([&](int j) { return dout(j) * wt[j] * x[j]; }) * r / T(row.n);
    row.each([&](int j) {
      const T dy = dout(j), xh = x[j] * r;
      dwt[j] += dy * xh;
      din(j, r * (dy * wt[j] - xh * m));
    });
  }
};

// y = (x − mean) / √(var + 1e-5) · w + b, biased variance (PyTorch's nn.LayerNorm)
struct LayerNorm {
  static constexpr const char* name = "LayerNorm";
  static constexpr HfModule hf_module{"MixlnLayerNorm"};  // the export's modeling_mixln.py
  static constexpr std::array<NormParam, 2> params = {{{"weight", true, 1.0}, {"bias", true, 0.0}}};
  static constexpr int num_stats = 2;  // mean, rstd
  static constexpr double eps = 1e-5;

  // Two passes: the mean, then the variance about it (stable where |mean| ≫ std).
  template <class Row, class In, class T>
  MIXLN_HD static void statistics(const Row& row, In&& in, const T* x, T* st) {
    using std::sqrt;
    const T mean = row.sum([&](int j) { return in(j); }) / T(row.n);
    const T var = row.sum([&](int j) {
                    const T d = x[j] - mean;
                    return d * d;
                  }) /
                  T(row.n);
    st[0] = mean;
    st[1] = T(1) / sqrt(var + T(eps));
  }
  template <class T>
  MIXLN_HD static T apply(const T* st, T x, int j, const T* const* w) {
    return (x - st[0]) * st[1] * w[0][j] + w[1][j];
  }
  // x̂ = (x − μ)·r;  dx = r·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·w;  dw += dy·x̂;  db += dy
  template <class Row, class DOut, class DIn, class T>
  MIXLN_HD static void backward(const Row& row, const T* x, const T* st, const T* const* w, DOut&& dout, DIn&& din,
                                T* const* dw) {
    const T mu = st[0], r = st[1], inv_n = T(1) / T(row.n);
    const T* wt = w[0];
    T *dwt = dw[0], *dbt = dw[1];
    const T mg = row.sum([&](int j) { return dout(j) * wt[j]; }) * inv_n;
    const T mgx = row.sum([&](int j) { return dout(j) * wt[j] * (x[j] - mu) * r; }) * inv_n;
    row.each([&](int j) {
      const T dy = dout(j), xh = (x[j] - mu) * r;
      dwt[j] += dy * xh;
      dbt[j] += dy;
      din(j, r * (dy * wt[j] - mg - xh * mgx));
    });
  }
};

// Dynamic Tanh (Zhu et al., 2025): y = w ⊙ tanh(α·x) + b, α one learned scalar, initialised
// to Alpha0 (a std::ratio, 1/2 by default). No statistics: DyT replaces a norm by a squashing
// function, so a model with DyT everywhere has no row reductions in its forward pass.
template <class Alpha0 = std::ratio<1, 2>>
struct DyT {
  static constexpr const char* name = "DyT";
  static constexpr HfModule hf_module{"MixlnDyT"};  // the export's modeling_mixln.py
  static constexpr double alpha0 = double(Alpha0::num) / double(Alpha0::den);
  static constexpr std::array<NormParam, 3> params = {
      {{"alpha", false, alpha0}, {"weight", true, 1.0}, {"bias", true, 0.0}}};
  static constexpr int num_stats = 0;

  template <class Row, class In, class T>
  MIXLN_HD static void statistics(const Row& row, In&& in, const T* /*x*/, T* /*st*/) {
    row.each([&](int j) { in(j); });
  }
  template <class T>
  MIXLN_HD static T apply(const T* /*st*/, T x, int j, const T* const* w) {
    return w[1][j] * fast_tanh(w[0][0] * x) + w[2][j];
  }
  // t = tanh(αx);  dx = dy·w·α·(1 − t²);  dα += Σ dy·w·x·(1 − t²);  dw += dy·t;  db += dy
  template <class Row, class DOut, class DIn, class T>
  MIXLN_HD static void backward(const Row& row, const T* x, const T* /*st*/, const T* const* w, DOut&& dout,
                                DIn&& din, T* const* dw) {
    const T alpha = w[0][0];
    const T* wt = w[1];
    T *dwt = dw[1], *dbt = dw[2];
    const T dalpha = row.sum([&](int j) {
      const T dy = dout(j), t = fast_tanh(alpha * x[j]);
      const T g = dy * wt[j] * (T(1) - t * t);
      dwt[j] += dy * t;
      dbt[j] += dy;
      din(j, g * alpha);
      return g * x[j];
    });
    if (row.leader()) dw[0][0] += dalpha;
  }
};

// A learned scalar, y = s·x, initialised to √C: DyT's LLaMA recipe multiplies the token
// embedding by one (Model's fourth argument, ScaledEmbedding). Not a norm, but the same
// interface: a row function with a parameter, fused into the boundary that reads it.
struct EmbedScale {
  static constexpr const char* name = "EmbedScale";
  static constexpr HfModule hf_module{"MixlnScale"};  // the export's modeling_mixln.py
  static constexpr std::array<NormParam, 1> params = {{{"scale", false, 1.0, 0.5}}};
  static constexpr int num_stats = 0;

  template <class Row, class In, class T>
  MIXLN_HD static void statistics(const Row& row, In&& in, const T* /*x*/, T* /*st*/) {
    row.each([&](int j) { in(j); });
  }
  template <class T>
  MIXLN_HD static T apply(const T* /*st*/, T x, int /*j*/, const T* const* w) {
    return w[0][0] * x;
  }
  // dx = dy·s;  ds += Σ dy·x
  template <class Row, class DOut, class DIn, class T>
  MIXLN_HD static void backward(const Row& row, const T* x, const T* /*st*/, const T* const* w, DOut&& dout,
                                DIn&& din, T* const* dw) {
    const T s = w[0][0];
    const T ds = row.sum([&](int j) {
      const T dy = dout(j);
      din(j, dy * s);
      return dy * x[j];
    });
    if (row.leader()) dw[0][0] += ds;
  }
};

}  // namespace mixln
