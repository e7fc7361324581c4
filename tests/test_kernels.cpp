// Every CPU kernel's backward against central finite differences, in double precision.
#include <doctest/doctest.h>

#include <mixln/cpu/backend.hpp>
#include <mixln/math/norm_kinds.hpp>
#include <mixln/math/fast_exp.hpp>
#include <mixln/math/fast_tanh.hpp>
#include <mixln/math/gelu.hpp>

#include "attention_reference.hpp"
#include "fd.hpp"
#include "gelu_block.hpp"

using namespace mixln;
using Cpu = cpu::Backend<double>;
using Vec = std::vector<double>;

namespace {

using R = RMSNorm;
using N = LayerNorm;
using Y = DyT<>;
template <class... K>
using L = norm_list<K...>;

// Random parameters of a norm list around their init (weights near 1, biases and α near their
// init), one vector per parameter.
template <class Norms>
std::vector<Vec> random_norm_params(int n, std::mt19937_64& g) {
  std::vector<Vec> out;
  Norms::for_each([&]<int I>() {
    using K = typename Norms::template at<I>;
    for (const auto& p : K::params)
      out.push_back(fd::random_vec(p.per_channel ? std::size_t(n) : 1, g, 0.3, p.init == 0 ? 0.0 : p.init));
  });
  return out;
}

// loss = Σ y·ry + Σ h·rh + Σ y·rk, where h is y itself without start norms and rk stands for
// the gradient a later skip sends back to y. Checks every gradient the boundary produces.
template <class Spec>
void check_boundary(const char* what) {
  const int Rn = 5, n = 7;
  std::mt19937_64 g(1000 + Spec::num_params * 7 + Spec::num_norms);
  Vec x = fd::random_vec(Rn * n, g), f = fd::random_vec(Rn * n, g, 0.7), x0 = fd::random_vec(Rn * n, g),
      ry = fd::random_vec(Rn * n, g), rh = fd::random_vec(Rn * n, g), rk = fd::random_vec(Rn * n, g);
  std::vector<Vec> w = random_norm_params<typename Spec::norms>(n, g);
  Vec y(Rn * n), h(Rn * n), stats(std::size_t(Rn) * std::max(Spec::num_stats, 1));
  std::vector<Vec> bufs(std::size_t(Spec::num_norms), Vec(Rn * n));
  auto args = [&] {
    BoundaryArgs<Spec, double> b;
    if (Spec::residual) b.x = x.data();
    b.f = f.data();
    if (Spec::skip) b.x0 = x0.data();
    b.y = y.data(), b.h = h.data(), b.stats = stats.data();
    for (int i = 0; i < Spec::num_norms; ++i) b.in[i] = bufs[std::size_t(i)].data();
    if (Spec::nb > 0) b.in[0] = f.data();
    if (Spec::ns > 0) b.in[Spec::first_start] = y.data();
    for (int p = 0; p < Spec::num_params; ++p) b.w[p] = w[std::size_t(p)].data();
    b.a = 1.3, b.c = 0.7;
    return b;
  };
  auto loss = [&] {
    Cpu::boundary_forward<Spec>(Rn, n, args());
    const Vec& hh = Spec::ns > 0 ? h : y;
    return fd::dot(y, ry) + fd::dot(hh, rh) + (Spec::skip_grad_in ? fd::dot(y, rk) : 0.0);
  };
  loss();
  Vec dx(Rn * n), dskip(Rn * n), df(Rn * n), dy = ry, dk = rk;
  std::vector<Vec> dw;
  for (auto& v : w) dw.emplace_back(v.size(), 0.0);
  Vec partials(std::size_t(row_chunks(Rn)) * (Spec::num_params + 1) * n);
  BoundaryGradArgs<Spec, double> gb;
  gb.dy_ext = dy.data(), gb.dskip_in = dk.data(), gb.dh = rh.data();
  gb.dx = dy.data(), gb.dskip_out = dk.data(), gb.df = df.data();  // dx aliases dy_ext, as in the engine
  for (int p = 0; p < Spec::num_params; ++p) gb.dw[p] = dw[std::size_t(p)].data();
  gb.partials = partials.data();
  Cpu::boundary_backward<Spec>(Rn, n, args(), gb);
  INFO("boundary " << what);
  fd::check("df", f, df, loss);
  if (Spec::residual) fd::check("dx", x, dy, loss);
  if (Spec::skip) fd::check("dx0", x0, dk, loss);
  for (int p = 0; p < Spec::num_params; ++p) fd::check("dw" + std::to_string(p), w[std::size_t(p)], dw[std::size_t(p)], loss);
}

}  // namespace

TEST_CASE("fused boundary: every step and every norm kind, alone and in chains, matches finite differences") {
  check_boundary<BoundarySpec<false, false, false, L<>, L<>, L<R>>>("embed | RMSNorm");
  check_boundary<BoundarySpec<false, false, true, L<>, L<>, L<>>>("embed, skipped to");
  check_boundary<BoundarySpec<true, false, false, L<>, L<>, L<>>>("add");
  check_boundary<BoundarySpec<true, false, false, L<>, L<>, L<R>>>("Pre-LN");
  check_boundary<BoundarySpec<true, false, false, L<>, L<R>, L<>>>("Post-LN");
  check_boundary<BoundarySpec<true, false, false, L<>, L<R>, L<R>>>("Mix-LN transition");
  check_boundary<BoundarySpec<true, false, false, L<R>, L<>, L<R>>>("Sandwich");
  check_boundary<BoundarySpec<true, false, false, L<R>, L<>, L<>>>("OLMo 2");
  check_boundary<BoundarySpec<true, true, true, L<>, L<R>, L<>>>("B2T, skip in and out");
  check_boundary<BoundarySpec<true, false, true, L<>, L<R>, L<R>>>("skipped to, with norms");
  check_boundary<BoundarySpec<true, false, false, L<N>, L<N>, L<N>>>("LayerNorm everywhere");
  check_boundary<BoundarySpec<true, false, false, L<Y>, L<Y>, L<Y>>>("DyT everywhere");
  check_boundary<BoundarySpec<false, false, false, L<>, L<>, L<Y>>>("embed | DyT");
  check_boundary<BoundarySpec<true, true, false, L<N>, L<>, L<Y>>>("LayerNorm(f) add+skip | DyT");
  check_boundary<BoundarySpec<true, true, true, L<R, N>, L<Y, R>, L<N, Y, R>>>("chains of mixed kinds");
}

TEST_CASE("fused boundary: the Pre-LN boundary equals add, then RMSNorm, computed by hand") {
  using Spec = BoundarySpec<true, false, false, L<>, L<>, L<R>>;
  const int n = 4;
  Vec x = {1, 2, 3, 4}, f = {0.5, -1, 2, 0}, ws = {1, 2, 0.5, 1}, y(n), h(n), st(1);
  BoundaryArgs<Spec, double> b;
  b.x = x.data(), b.f = f.data(), b.y = y.data(), b.h = h.data(), b.stats = st.data();
  b.in[0] = y.data(), b.w[0] = ws.data();
  Cpu::boundary_forward<Spec>(1, n, b);
  const Vec s = {1.5, 1, 5, 4};
  const double r = 1 / std::sqrt((1.5 * 1.5 + 1 + 25 + 16) / 4 + 1e-6);
  for (int j = 0; j < n; ++j) {
    CHECK(y[j] == doctest::Approx(s[j]));
    CHECK(h[j] == doctest::Approx(s[j] * r * ws[j]));
  }
  CHECK(st[0] == doctest::Approx(r));
}

TEST_CASE("norm kinds: LayerNorm and DyT forward as docs/design.md §8.1 defines them") {
  const int n = 5;
  Vec x = {1, -2, 3, 0.5, 4}, w = {1, 2, 0.5, 1, 1.5}, bias = {0.1, 0, -0.2, 0.3, 0}, alpha = {0.7}, y(n), st(2);
  const double* wl[] = {w.data(), bias.data()};
  norm_row_forward<N>(SerialRow{n}, x.data(), y.data(), wl, st.data());
  double mean = 0, var = 0;
  for (double v : x) mean += v / n;
  for (double v : x) var += (v - mean) * (v - mean) / n;
  for (int j = 0; j < n; ++j) CHECK(y[j] == doctest::Approx((x[j] - mean) / std::sqrt(var + 1e-5) * w[j] + bias[j]));
  const double* wd[] = {alpha.data(), w.data(), bias.data()};
  norm_row_forward<Y>(SerialRow{n}, x.data(), y.data(), wd, st.data());
  for (int j = 0; j < n; ++j) CHECK(y[j] == doctest::Approx(w[j] * std::tanh(0.7 * x[j]) + bias[j]));
  CHECK(Y::params[0].init == 0.5);
  CHECK(DyT<std::ratio<1, 4>>::params[0].init == 0.25);
}

// One norm over the per-head rows of a [R, 3C] buffer: dx (in place, as attention uses it) and
// every parameter gradient against finite differences.
template <class K>
void check_norm_rows(int groups) {
  const int Rn = 3, H = 2, D = 4, C = H * D, n = groups > 1 ? D : C, rows = Rn * groups;
  std::mt19937_64 g(77 + groups);
  Vec x = fd::random_vec(Rn * 3 * C, g), y(Rn * 3 * C), r = fd::random_vec(Rn * 3 * C, g);
  std::vector<Vec> w = random_norm_params<norm_list<K>>(n, g);
  std::vector<double*> wp;
  for (auto& v : w) wp.push_back(v.data());
  Vec stats(std::size_t(rows) * std::max(K::num_stats, 1));
  const std::size_t col = C;  // the k columns
  auto loss = [&] {
    Cpu::norm_rows_forward<K>(rows, n, RowsView<const double>{x.data() + col, groups, 3 * C},
                              RowsView<double>{y.data() + col, groups, 3 * C}, wp.data(), stats.data());
    double l = 0;
    for (int t = 0; t < Rn; ++t)
      for (int j = 0; j < C; ++j) l += y[t * 3 * C + col + j] * r[t * 3 * C + col + j];
    return l;
  };
  loss();
  Vec d = r;  // in place: d's k columns become dx
  std::vector<Vec> dw;
  for (auto& v : w) dw.emplace_back(v.size(), 0.0);
  std::vector<double*> dwp;
  for (auto& v : dw) dwp.push_back(v.data());
  Vec partials(std::size_t(row_chunks(rows)) * (K::params.size() + 1) * n);
  Cpu::norm_rows_backward<K>(rows, n, RowsView<const double>{x.data() + col, groups, 3 * C}, stats.data(), wp.data(),
                             RowsView<const double>{d.data() + col, groups, 3 * C},
                             RowsView<double>{d.data() + col, groups, 3 * C}, dwp.data(), partials.data());
  Vec dx(x.size(), 0.0);
  for (int t = 0; t < Rn; ++t)
    for (int j = 0; j < C; ++j) dx[t * 3 * C + col + j] = d[t * 3 * C + col + j];
  INFO(K::name << (groups > 1 ? " per head" : " full width"));
  fd::check("dx", x, dx, loss);
  for (std::size_t p = 0; p < w.size(); ++p) fd::check("dw" + std::to_string(p), w[p], dw[p], loss);
}

TEST_CASE("norm rows (QK-norm): per head and full width, every kind, match finite differences") {
  check_norm_rows<R>(2);
  check_norm_rows<R>(1);
  check_norm_rows<N>(2);
  check_norm_rows<Y>(1);
}

TEST_CASE("map: a user branch's elementwise op (examples/gelu_block.hpp's GELU) and its backward") {
  const std::size_t n = 40;
  std::mt19937_64 g(8);
  Vec x = fd::random_vec(n, g, 2.0), r = fd::random_vec(n, g), y(n), dx(n);
  auto loss = [&] {
    Cpu::map_forward<gelu::GeluTanh>(n, x.data(), y.data());
    return fd::dot(y, r);
  };
  loss();
  CHECK(y[3] == doctest::Approx(0.5 * x[3] * (1 + std::tanh(0.7978845608028654 * (x[3] + 0.044715 * std::pow(x[3], 3))))));
  Cpu::map_backward<gelu::GeluTanh>(n, x.data(), r.data(), dx.data());
  fd::check("dx", x, dx, loss);
}

TEST_CASE("copy_rows copies strided rows and nothing else") {
  Vec src = {1, 2, 3, 4, 5, 6}, dst(6, 0.0);
  Cpu::copy_rows(2, 2, RowsView<const double>{src.data() + 1, 1, 3}, RowsView<double>{dst.data() + 1, 1, 3});
  CHECK(dst == Vec{0, 2, 3, 0, 5, 6});
}

TEST_CASE("linear: dx and dW match finite differences; dW accumulates") {
  const int M = 3, N = 4, K = 5;
  std::mt19937_64 g(1);
  Vec x = fd::random_vec(M * K, g), W = fd::random_vec(N * K, g), r = fd::random_vec(M * N, g);
  Vec y(M * N), dx(M * K), dW(N * K, 0.0);
  auto loss = [&] {
    Cpu::linear_forward(Precision::fp32, M, N, K, x.data(), W.data(), y.data());
    return fd::dot(y, r);
  };
  loss();
  Cpu::linear_backward(Precision::fp32, M, N, K, r.data(), x.data(), W.data(), dx.data(), dW.data());
  fd::check("dx", x, dx, loss);
  fd::check("dW", W, dW, loss);
  Vec dW2 = dW;
  Cpu::linear_backward(Precision::fp32, M, N, K, r.data(), x.data(), W.data(), dx.data(), dW2.data());
  for (int i = 0; i < N * K; ++i) CHECK(dW2[i] == doctest::Approx(2 * dW[i]));
}

TEST_CASE("RoPE: rotate_half convention, and its backward is the transpose") {
  const int B = 1, T = 3, H = 2, D = 4, C = H * D;
  Vec cs(T * D / 2), sn(T * D / 2);
  Cpu::rope_tables(T, D, cs.data(), sn.data());
  // position 2, frequency index 1: θ = 2 / 10000^(2/4)
  CHECK(cs[2 * 2 + 1] == doctest::Approx(std::cos(2.0 / 100.0)));
  std::mt19937_64 g(2);
  Vec qkv = fd::random_vec(B * T * 3 * C, g), r = fd::random_vec(B * T * 3 * C, g);
  const Vec orig = qkv;
  Cpu::rope(false, B, T, H, D, qkv.data(), cs.data(), sn.data());
  // v (the last C columns of a row) is left alone; q at position 0 too (angle 0)
  for (int j = 2 * C; j < 3 * C; ++j) CHECK(qkv[j] == orig[j]);
  for (int j = 0; j < C; ++j) CHECK(qkv[j] == doctest::Approx(orig[j]));
  // q[1] at position 1, head 0: q0·cos θ0 − q2·sin θ0 with θ0 = 1
  const double* q1 = &orig[3 * C];
  CHECK(qkv[3 * C] == doctest::Approx(q1[0] * std::cos(1.0) - q1[2] * std::sin(1.0)));
  // <R v, r> == <v, Rᵀ r>
  Vec rt = r;
  Cpu::rope(true, B, T, H, D, rt.data(), cs.data(), sn.data());
  CHECK(fd::dot(qkv, r) == doctest::Approx(fd::dot(orig, rt)));
}

TEST_CASE("causal attention: dqkv matches finite differences; the future is masked; the saved statistics") {
  const int B = 2, T = 5, H = 2, D = 4, C = H * D;
  std::mt19937_64 g(3);
  Vec qkv = fd::random_vec(B * T * 3 * C, g), r = fd::random_vec(B * T * C, g);
  Vec stats(B * H * T * 2), out(B * T * C), delta(B * H * T), dqkv(B * T * 3 * C);
  auto loss = [&] {
    Cpu::attention_forward(Precision::fp32, AttentionMask::causal, B, T, H, D, qkv.data(), stats.data(), out.data());
    return fd::dot(out, r);
  };
  loss();
  // stats (b, h, t) = (max_j≤t s_tj, 1/Σ_j≤t exp(s_tj − m)), s = q·k/√D
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) {
        std::vector<double> s(std::size_t(t) + 1);
        for (int j = 0; j <= t; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d)
            dot += qkv[(std::size_t(b) * T + t) * 3 * C + h * D + d] * qkv[(std::size_t(b) * T + j) * 3 * C + C + h * D + d];
          s[std::size_t(j)] = dot / std::sqrt(double(D));
        }
        const double m = *std::max_element(s.begin(), s.end());
        double z = 0;
        for (double x : s) z += std::exp(x - m);
        const std::size_t at = ((std::size_t(b) * H + h) * T + t) * 2;
        CHECK(stats[at] == doctest::Approx(m).epsilon(1e-12));
        CHECK(stats[at + 1] == doctest::Approx(1 / z).epsilon(1e-12));
      }
  Cpu::attention_backward(Precision::fp32, AttentionMask::causal, B, T, H, D, qkv.data(), out.data(), stats.data(), r.data(), delta.data(),
                          dqkv.data());
  fd::check("dqkv", qkv, dqkv, loss);
  // changing a later token leaves earlier outputs alone
  const Vec before = out;
  qkv[(T - 1) * 3 * C + C] += 1.0;  // k of the last position, batch 0
  loss();
  for (int t = 0; t < T - 1; ++t)
    for (int j = 0; j < C; ++j) CHECK(out[t * C + j] == before[t * C + j]);
}

TEST_CASE("attention without a mask: out, stats and dqkv against the materialized attention; finite differences") {
  // fp64 (cpu::Backend<double>) against attention_reference.hpp in double; a shape with two query
  // blocks of kQueryBlock rows and a partial one, so that every block sees all T keys.
  const int B = 2, T = 2 * cpu::kQueryBlock + 9, H = 2, D = 8, C = H * D;
  const attention_test::Shape shape{B, T, H, D, AttentionMask::none};
  std::mt19937_64 g(31);
  Vec qkv = fd::random_vec(std::size_t(B) * T * 3 * C, g), r = fd::random_vec(std::size_t(B) * T * C, g);
  Vec stats(std::size_t(B) * H * T * 2), out(std::size_t(B) * T * C), delta(std::size_t(B) * H * T),
      dqkv(std::size_t(B) * T * 3 * C);
  Cpu::attention_forward(Precision::fp32, AttentionMask::none, B, T, H, D, qkv.data(), stats.data(), out.data());
  Cpu::attention_backward(Precision::fp32, AttentionMask::none, B, T, H, D, qkv.data(), out.data(), stats.data(),
                          r.data(), delta.data(), dqkv.data());
  const attention_test::Ref ref = attention_test::reference(shape, qkv, r, false);
  Vec m(ref.m.size()), inv(ref.inv.size());
  for (std::size_t i = 0; i < m.size(); ++i) m[i] = stats[2 * i], inv[i] = stats[2 * i + 1];
  CHECK(attention_test::rel_l2(out, ref.out) <= 1e-13);
  CHECK(attention_test::rel_l2(m, ref.m) <= 1e-13);
  CHECK(attention_test::rel_l2(inv, ref.inv) <= 1e-13);
  CHECK(attention_test::rel_l2(dqkv, ref.dqkv) <= 1e-12);
  // the causal result differs in every row but the last (which sees every key either way)
  Vec causal_out(out.size()), causal_stats(stats.size());
  Cpu::attention_forward(Precision::fp32, AttentionMask::causal, B, T, H, D, qkv.data(), causal_stats.data(),
                         causal_out.data());
  for (int t = 0; t < T; ++t) {
    double diff = 0;
    for (int j = 0; j < C; ++j) diff = std::max(diff, std::abs(out[std::size_t(t) * C + j] - causal_out[std::size_t(t) * C + j]));
    CAPTURE(t);
    if (t < T - 1) CHECK(diff > 1e-6);
    else CHECK(diff <= 1e-13);
  }
  // finite differences on a small shape
  const int Ts = 5;
  Vec q5 = fd::random_vec(std::size_t(B) * Ts * 3 * C, g), r5 = fd::random_vec(std::size_t(B) * Ts * C, g);
  Vec st5(std::size_t(B) * H * Ts * 2), o5(std::size_t(B) * Ts * C), d5(std::size_t(B) * H * Ts), g5(q5.size());
  auto loss = [&] {
    Cpu::attention_forward(Precision::fp32, AttentionMask::none, B, Ts, H, D, q5.data(), st5.data(), o5.data());
    return fd::dot(o5, r5);
  };
  loss();
  Cpu::attention_backward(Precision::fp32, AttentionMask::none, B, Ts, H, D, q5.data(), o5.data(), st5.data(),
                          r5.data(), d5.data(), g5.data());
  fd::check("dqkv", q5, g5, loss);
}

TEST_CASE("attention without a mask, --precision bf16 on the CPU: against the reference that rounds the operands") {
  using Cpu32 = cpu::Backend<float>;
  for (int T : {7, 100}) {
    const int B = 2, H = 2, D = 64, C = H * D;
    const attention_test::Shape shape{B, T, H, D, AttentionMask::none};
    std::mt19937_64 g(50 + T);
    std::vector<float> qkv, r;
    for (double x : fd::random_vec(std::size_t(B) * T * 3 * C, g)) qkv.push_back(float(x));
    for (double x : fd::random_vec(std::size_t(B) * T * C, g)) r.push_back(float(x));
    std::vector<float> stats(std::size_t(B) * H * T * 2), out(std::size_t(B) * T * C), delta(std::size_t(B) * H * T),
        dqkv(std::size_t(B) * T * 3 * C);
    Cpu32::attention_forward(Precision::bf16, AttentionMask::none, B, T, H, D, qkv.data(), stats.data(), out.data());
    Cpu32::attention_backward(Precision::bf16, AttentionMask::none, B, T, H, D, qkv.data(), out.data(), stats.data(),
                              r.data(), delta.data(), dqkv.data());
    const attention_test::Ref ref = attention_test::reference(shape, qkv, r, true);
    CAPTURE(T);
    // the CPU rounds the normalized P as the reference does; bound as the twin's (test_flash_attention)
    CHECK(attention_test::rel_l2(out, ref.out) <= 1e-2);
    CHECK(attention_test::rel_l2(dqkv, ref.dqkv) <= 1e-2);
  }
}

TEST_CASE("a linear layer's bias: y += b on every row; db += the column sums, the same on any thread count") {
  const int R = 70, n = 130;  // columns over two chunks and a partial one
  std::mt19937_64 g(8);
  Vec y = fd::random_vec(std::size_t(R) * n, g), b = fd::random_vec(n, g), db = fd::random_vec(n, g);
  const Vec y0 = y, db0 = db;
  Cpu::bias_forward(R, n, b.data(), y.data());
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < n; ++j) CHECK(y[std::size_t(r) * n + j] == y0[std::size_t(r) * n + j] + b[j]);
  Cpu::bias_backward(R, n, y0.data(), db.data());
  for (int j = 0; j < n; ++j) {
    double s = db0[j];
    for (int r = 0; r < R; ++r) s += y0[std::size_t(r) * n + j];
    CHECK(db[j] == doctest::Approx(s).epsilon(1e-14));
  }
}

TEST_CASE("exact GELU (math/gelu.hpp): values of PyTorch's nn.GELU() and the derivative by finite differences") {
  // torch.nn.functional.gelu(torch.tensor([-3., -1., -0.5, 0., 0.5, 1., 3.], dtype=torch.float64))
  const double x[] = {-3, -1, -0.5, 0, 0.5, 1, 3};
  const double y[] = {-0.0040496940949, -0.15865525393, -0.15426876936, 0, 0.34573123064, 0.84134474607, 2.9959503059051};
  for (int i = 0; i < 7; ++i) {
    CHECK(GeluErf::forward(x[i]) == doctest::Approx(y[i]).epsilon(1e-9));
    const double h = 1e-6, d = (GeluErf::forward(x[i] + h) - GeluErf::forward(x[i] - h)) / (2 * h);
    CHECK(GeluErf::backward(x[i], 2.0) == doctest::Approx(2 * d).epsilon(1e-8));
  }
}

TEST_CASE("SwiGLU: silu(gate)·up and its backward") {
  const int R = 3, I = 6;
  std::mt19937_64 g(4);
  Vec gu = fd::random_vec(R * 2 * I, g, 2.0), r = fd::random_vec(R * I, g);
  Vec act(R * I), dgu(R * 2 * I);
  auto loss = [&] {
    Cpu::swiglu_forward(R, I, gu.data(), act.data());
    return fd::dot(act, r);
  };
  loss();
  CHECK(act[0] == doctest::Approx(gu[0] / (1 + std::exp(-gu[0])) * gu[I]));
  Cpu::swiglu_backward(R, I, gu.data(), r.data(), dgu.data());
  fd::check("dgu", gu, dgu, loss);
}

TEST_CASE("cross-entropy: mean over labels != -100, fused gradient") {
  const int R = 4, V = 7;
  std::mt19937_64 g(5);
  Vec z = fd::random_vec(R * V, g, 2.0), row(R);
  const std::int32_t labels[R] = {3, -100, 0, 6};
  const int n = cpu::count_labels(R, labels);
  CHECK(n == 3);
  auto loss = [&] {
    Vec copy = z;
    double sum = 0;
    Cpu::cross_entropy(R, V, copy.data(), labels, n, false, copy.data(), row.data(), &sum);
    return sum / n;
  };
  // by hand for row 0
  double m = z[0], sum = 0;
  for (int j = 0; j < V; ++j) m = std::max(m, z[j]);
  for (int j = 0; j < V; ++j) sum += std::exp(z[j] - m);
  const double l0 = std::log(sum) + m - z[3];
  loss();
  CHECK(row[0] == doctest::Approx(l0));
  CHECK(row[1] == 0.0);
  Vec grad = z;
  double total = 1.5;  // cross_entropy adds to it
  Cpu::cross_entropy(R, V, grad.data(), labels, n, true, grad.data(), row.data(), &total);
  total -= 1.5;
  CHECK(total / n == doctest::Approx(loss()));
  for (int j = 0; j < V; ++j) CHECK(grad[V + j] == 0.0);  // the ignored row
  fd::check("dlogits", z, grad, loss);
}

TEST_CASE("embedding: lookup and scatter-add of repeated tokens") {
  const int R = 4, C = 3, V = 5;
  std::mt19937_64 g(6);
  Vec table = fd::random_vec(V * C, g), r = fd::random_vec(R * C, g), out(R * C), dt(V * C, 0.0);
  const std::int32_t tok[R] = {2, 0, 2, 4};
  auto loss = [&] {
    Cpu::embedding_forward(R, C, tok, table.data(), out.data());
    return fd::dot(out, r);
  };
  loss();
  CHECK(out[C + 1] == table[1]);
  Cpu::embedding_backward(R, C, tok, r.data(), dt.data());
  fd::check("dtable", table, dt, loss);
}

TEST_CASE("fast_tanh: relative error below 4e-7, exactly odd, saturates to +-1") {
  double worst = 0;
  bool odd = true;
  for (float x = -12.0f; x < 12.0f; x += 0.00037f) {
    const double ref = std::tanh(double(x));
    worst = std::max(worst, std::abs(double(fast_tanh(x)) - ref) / std::max(std::abs(ref), 1e-30));
    odd = odd && fast_tanh(-x) == -fast_tanh(x);
  }
  CHECK(worst < 4e-7);
  CHECK(odd);
  CHECK(std::abs(fast_tanh(1e-8f) - 1e-8f) < 1e-14f);
  CHECK(std::abs(fast_tanh(100.f) - 1.f) < 1e-6f);
  CHECK(std::abs(fast_tanh(-1e30f) + 1.f) < 1e-6f);
}

TEST_CASE("fast_exp: relative error below 2e-7 over the float range, no inf or 0") {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.0007f)
    worst = std::max(worst, std::abs(double(fast_exp(x)) / std::exp(double(x)) - 1));
  CHECK(worst < 2e-7);
  CHECK(fast_exp(-1000.f) > 0.f);
  CHECK(std::isfinite(fast_exp(1000.f)));
  CHECK(fast_exp(0.f) == 1.f);
}
