// A user's own architecture, written outside mixln against the installed headers: a norm kind
// of its own (ScaleNorm: one learned scalar gain instead of a weight per channel), a block of
// its own (the MLP before the attention), and a placement of its own that puts them together.
#pragma once

#include <array>
#include <cmath>

#include <mixln/mixln.hpp>

namespace my {

// y = g · x / √(mean(x²) + 1e-6), g one learned scalar (Nguyen & Salazar's ScaleNorm, with the
// RMS instead of the L2 norm).
struct ScaleNorm {
  static constexpr const char* name = "ScaleNorm";
  static constexpr std::array<mixln::NormParam, 1> params = {{{"gain", false, 1.0}}};
  static constexpr int num_stats = 1;  // rstd

  template <class Row, class In, class T>
  MIXLN_HD static void statistics(const Row& row, In&& in, const T* /*x*/, T* st) {
    using std::sqrt;
    const T ss = row.sum([&](int j) {
      const T v = in(j);
      return v * v;
    });
    st[0] = T(1) / sqrt(ss / T(row.n) + T(1e-6));
  }
  template <class T>
  MIXLN_HD static T apply(const T* st, T x, int /*j*/, const T* const* w) {
    return w[0][0] * x * st[0];
  }
  // x̂ = x·r;  dx = g·r·(dy − x̂·mean(dy·x̂));  dg += Σ dy·x̂
  template <class Row, class DOut, class DIn, class T>
  MIXLN_HD static void backward(const Row& row, const T* x, const T* st, const T* const* w, DOut&& dout, DIn&& din,
                                T* const* dw) {
    const T r = st[0], g = w[0][0];
    const T dot = row.sum([&](int j) { return dout(j) * x[j] * r; });
    const T m = dot / T(row.n);
    row.each([&](int j) { din(j, g * r * (dout(j) - x[j] * r * m)); });
    if (row.leader()) dw[0][0] += dot;
  }
};

// The MLP first, then the attention: the library's branches, in an order of the user's.
template <class Cfg>
struct MlpFirst {
  using config = Cfg;
  static constexpr const char* name = "mlp_first";
  using branches = mixln::type_list<mixln::SwiGLUMLP<Cfg>, mixln::LlamaAttention<Cfg>>;
};

// Pre-LN around each branch with ScaleNorm, named by position.
template <class B>
struct PreScale : mixln::placement<B> {
  static constexpr const char* name = "PreScale";
  using sublayers = mixln::type_list<mixln::SubLayer<mixln::PreNorm<ScaleNorm, "first_norm">>,
                                     mixln::SubLayer<mixln::PreNorm<ScaleNorm, "second_norm">>>;
};

template <class Cfg>
using Net = mixln::Model<Cfg,
                         mixln::Stack<PreScale<MlpFirst<Cfg>>, 2, mixln::SandwichLN<mixln::LlamaBlock<Cfg>>, 1,
                                      mixln::PostLN<mixln::LlamaBlock<Cfg>, mixln::LayerNorm>, 2,
                                      mixln::LNS<mixln::LlamaBlock<Cfg>>, 1>,
                         ScaleNorm>;

}  // namespace my
