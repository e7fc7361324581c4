// tests/attention_reference.hpp — the materialised attention (causal or without a mask) in double, the yardstick of
// the fused attention's tests (test_flash_attention, test_attention_mma, test_attention_simt),
// and the error measure they share.
//
// Layouts as the backend op's (backend_ops.hpp): qkv [B, T, 3C], dout and out [B, T, C],
// m and inv [B, H, T], dqkv [B, T, 3C]. With bf16 the operands of every product (q, k, v, P,
// dO, dS) are rounded to bf16 as the fused code rounds them; everything else is double.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

#include <mixln/math/flash_attention.hpp>

namespace mixln::attention_test {

struct Shape {
  int B, T, H, D;
  AttentionMask mask = AttentionMask::causal;
  int C() const { return H * D; }
  bool causal() const { return mask == AttentionMask::causal; }
  // The last key row t sees, and the first row that sees key j.
  int last_key(int t) const { return causal() ? t : T - 1; }
  int first_row(int j) const { return causal() ? j : 0; }
};

struct Ref {
  std::vector<double> out, m, inv, dqkv;
};

template <class In>
Ref reference(const Shape& s, const std::vector<In>& qkv, const std::vector<In>& dout, bool bf16) {
  const int B = s.B, T = s.T, H = s.H, D = s.D, C = s.C();
  const double scale = 1.0 / std::sqrt(double(D));
  auto rnd = [&](double x) { return flash_operand(x, bf16); };
  Ref r;
  r.out.assign(std::size_t(B) * T * C, 0);
  r.m.assign(std::size_t(B) * H * T, 0);
  r.inv.assign(r.m.size(), 0);
  r.dqkv.assign(std::size_t(B) * T * 3 * C, 0);
  const std::size_t TT = std::size_t(T) * T;
  std::vector<double> S(TT), P(TT), dS(TT);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      auto at = [&](int t, int col) { return double(qkv[(std::size_t(b) * T + t) * 3 * C + std::size_t(col)]); };
      auto q = [&](int t, int d) { return at(t, h * D + d); };
      auto k = [&](int t, int d) { return at(t, C + h * D + d); };
      auto v = [&](int t, int d) { return at(t, 2 * C + h * D + d); };
      auto dO = [&](int t, int d) { return double(dout[(std::size_t(b) * T + t) * C + std::size_t(h) * D + d]); };
      auto O = [&](int t, int d) -> double& { return r.out[(std::size_t(b) * T + t) * C + std::size_t(h) * D + d]; };
      auto G = [&](int t, int col) -> double& { return r.dqkv[(std::size_t(b) * T + t) * 3 * C + col]; };
      // forward
      for (int t = 0; t < T; ++t) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j <= s.last_key(t); ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += rnd(q(t, d)) * rnd(k(j, d));
          S[std::size_t(t) * T + j] = dot * scale;
          mx = std::max(mx, S[std::size_t(t) * T + j]);
        }
        double z = 0;
        for (int j = 0; j <= s.last_key(t); ++j) z += std::exp(S[std::size_t(t) * T + j] - mx);
        for (int j = 0; j < T; ++j)
          P[std::size_t(t) * T + j] = j <= s.last_key(t) ? std::exp(S[std::size_t(t) * T + j] - mx) / z : 0.0;
        r.m[(std::size_t(b) * H + h) * T + t] = mx;
        r.inv[(std::size_t(b) * H + h) * T + t] = 1 / z;
        for (int d = 0; d < D; ++d) {
          double o = 0;
          for (int j = 0; j <= s.last_key(t); ++j) o += rnd(P[std::size_t(t) * T + j]) * rnd(v(j, d));
          O(t, d) = o;
        }
      }
      // backward: delta_t = Σ dO·O, dS = P (dP − delta)
      for (int t = 0; t < T; ++t) {
        double dl = 0;
        for (int d = 0; d < D; ++d) dl += dO(t, d) * O(t, d);
        for (int j = 0; j < T; ++j) {
          double dp = 0;
          for (int d = 0; d < D; ++d) dp += rnd(dO(t, d)) * rnd(v(j, d));
          dS[std::size_t(t) * T + j] = j <= s.last_key(t) ? P[std::size_t(t) * T + j] * (dp - dl) : 0.0;
        }
      }
      for (int d = 0; d < D; ++d) {
        for (int t = 0; t < T; ++t) {  // dQ_t = scale Σ_j dS_tj k_j
          double a = 0;
          for (int j = 0; j <= s.last_key(t); ++j) a += rnd(dS[std::size_t(t) * T + j]) * rnd(k(j, d));
          G(t, h * D + d) = scale * a;
        }
        for (int j = 0; j < T; ++j) {  // dK_j = scale Σ_t dS_tj q_t, dV_j = Σ_t P_tj dO_t
          double a = 0, c = 0;
          for (int t = s.first_row(j); t < T; ++t) {
            a += rnd(dS[std::size_t(t) * T + j]) * rnd(q(t, d));
            c += rnd(P[std::size_t(t) * T + j]) * rnd(dO(t, d));
          }
          G(j, C + h * D + d) = scale * a;
          G(j, 2 * C + h * D + d) = c;
        }
      }
    }
  return r;
}

// ‖a − b‖ / ‖b‖ over b's elements with keep(i) (a may be longer: a sentinel tail); NaN in a
// makes it NaN, a failure. Where b is zero to rounding (dq and dk at T = 1: dS = dP − delta = 0
// with one key) the error is absolute, the root mean square of a − b (inputs of scale 1).
template <class A, class Keep>
double rel_l2(const std::vector<A>& a, const std::vector<double>& b, Keep keep) {
  double num = 0, den = 0, n = 0;
  for (std::size_t i = 0; i < b.size(); ++i)
    if (keep(i)) {
      const double e = double(a[i]) - b[i];
      num += e * e;
      den += b[i] * b[i];
      n += 1;
    }
  return std::sqrt(num / (den > 1e-20 * n ? den : n));
}
template <class A>
double rel_l2(const std::vector<A>& a, const std::vector<double>& b) {
  return rel_l2(a, b, [](std::size_t) { return true; });
}

}  // namespace mixln::attention_test
