// Every CPU kernel's backward against central finite differences, in double precision.
#include <doctest/doctest.h>

#include <mixln/cpu/backend.hpp>
#include <mixln/math/fast_exp.hpp>

#include "fd.hpp"

using namespace mixln;
using Cpu = cpu::Backend<double>;
using Vec = std::vector<double>;

namespace {

// loss = Σ y·ry + Σ h·rh + Σ y·rk, where h is y itself without a start norm and rk stands for
// the gradient a later skip sends back to y.
template <int Bits>
void check_boundary() {
  constexpr BoundaryKind K = kind_of_bits(Bits);
  if constexpr (K.skip && !K.residual) {
    return;  // a skip connection always comes with a residual
  } else {
    const int R = 5, n = 7;
    std::mt19937_64 g(1000 + Bits);
    Vec x = fd::random_vec(R * n, g), f = fd::random_vec(R * n, g, 0.7),
        x0 = fd::random_vec(R * n, g), wb = fd::random_vec(n, g, 0.3, 1.0),
        we = fd::random_vec(n, g, 0.3, 1.0), ws = fd::random_vec(n, g, 0.3, 1.0),
        ry = fd::random_vec(R * n, g), rh = fd::random_vec(R * n, g), rk = fd::random_vec(R * n, g);
    Vec s(R * n), y(R * n), h(R * n), stats(R * 3);
    auto bufs = [&] {
      cpu::BoundaryBuffers<double> b;
      b.x = x.data(), b.f = f.data(), b.x0 = x0.data();
      b.s = s.data(), b.y = y.data(), b.h = h.data(), b.stats = stats.data();
      b.wb = wb.data(), b.we = we.data(), b.ws = ws.data();
      b.a = 1.3, b.c = 0.7;
      return b;
    };
    auto loss = [&] {
      Cpu::boundary_forward<K>(R, n, bufs());
      const Vec& hh = K.start_norm ? h : y;
      return fd::dot(y, ry) + fd::dot(hh, rh) + (K.skip_grad_in ? fd::dot(y, rk) : 0.0);
    };
    loss();
    Vec dx(R * n), dskip(R * n), df(R * n), dwb(n), dwe(n), dws(n);
    Vec partials(std::size_t(cpu::row_chunks(R)) * 4 * n);
    cpu::BoundaryGradBuffers<double> gb;
    gb.dy_ext = ry.data(), gb.dskip_in = rk.data(), gb.dh = rh.data();
    gb.dx = dx.data(), gb.dskip_out = dskip.data(), gb.df = df.data();
    gb.dwb = dwb.data(), gb.dwe = dwe.data(), gb.dws = dws.data();
    gb.partials = partials.data();
    Cpu::boundary_backward<K>(R, n, bufs(), gb);
    INFO("kind bits " << Bits);
    fd::check("df", f, df, loss);
    if (K.residual) fd::check("dx", x, dx, loss);
    if (K.skip) fd::check("dx0", x0, dskip, loss);
    if (K.branch_norm) fd::check("dwb", wb, dwb, loss);
    if (K.end_norm) fd::check("dwe", we, dwe, loss);
    if (K.start_norm) fd::check("dws", ws, dws, loss);
  }
}

}  // namespace

TEST_CASE("fused boundary: every kind's backward matches finite differences") {
  []<int... b>(std::integer_sequence<int, b...>) {
    (check_boundary<b>(), ...);
  }(std::make_integer_sequence<int, 64>{});
}

TEST_CASE("fused boundary: the Pre-LN kind equals add, then RMSNorm, computed by hand") {
  const int n = 4;
  Vec x = {1, 2, 3, 4}, f = {0.5, -1, 2, 0}, ws = {1, 2, 0.5, 1}, y(n), h(n), st(3);
  cpu::BoundaryBuffers<double> b;
  b.x = x.data(), b.f = f.data(), b.y = y.data(), b.h = h.data(), b.ws = ws.data(),
  b.stats = st.data();
  Cpu::boundary_forward<BoundaryKind{.residual = true, .start_norm = true}>(1, n, b);
  const Vec s = {1.5, 1, 5, 4};
  const double r = 1 / std::sqrt((1.5 * 1.5 + 1 + 25 + 16) / 4 + 1e-6);
  for (int j = 0; j < n; ++j) {
    CHECK(y[j] == doctest::Approx(s[j]));
    CHECK(h[j] == doctest::Approx(s[j] * r * ws[j]));
  }
}

TEST_CASE("linear: dx and dW match finite differences; dW accumulates") {
  const int M = 3, N = 4, K = 5;
  std::mt19937_64 g(1);
  Vec x = fd::random_vec(M * K, g), W = fd::random_vec(N * K, g), r = fd::random_vec(M * N, g);
  Vec y(M * N), dx(M * K), dW(N * K, 0.0);
  auto loss = [&] {
    Cpu::linear_forward(M, N, K, x.data(), W.data(), y.data());
    return fd::dot(y, r);
  };
  loss();
  Cpu::linear_backward(M, N, K, r.data(), x.data(), W.data(), dx.data(), dW.data());
  fd::check("dx", x, dx, loss);
  fd::check("dW", W, dW, loss);
  Vec dW2 = dW;
  Cpu::linear_backward(M, N, K, r.data(), x.data(), W.data(), dx.data(), dW2.data());
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
  Cpu::rope<false>(B, T, H, D, qkv.data(), cs.data(), sn.data());
  // v (the last C columns of a row) is left alone; q at position 0 too (angle 0)
  for (int j = 2 * C; j < 3 * C; ++j) CHECK(qkv[j] == orig[j]);
  for (int j = 0; j < C; ++j) CHECK(qkv[j] == doctest::Approx(orig[j]));
  // q[1] at position 1, head 0: q0·cos θ0 − q2·sin θ0 with θ0 = 1
  const double* q1 = &orig[3 * C];
  CHECK(qkv[3 * C] == doctest::Approx(q1[0] * std::cos(1.0) - q1[2] * std::sin(1.0)));
  // <R v, r> == <v, Rᵀ r>
  Vec rt = r;
  Cpu::rope<true>(B, T, H, D, rt.data(), cs.data(), sn.data());
  CHECK(fd::dot(qkv, r) == doctest::Approx(fd::dot(orig, rt)));
}

TEST_CASE("causal attention: dqkv matches finite differences; the future is masked") {
  const int B = 2, T = 5, H = 2, D = 4, C = H * D;
  std::mt19937_64 g(3);
  Vec qkv = fd::random_vec(B * T * 3 * C, g), r = fd::random_vec(B * T * C, g);
  Vec probs(B * H * T * T), out(B * T * C), dprobs(B * H * T * T), dqkv(B * T * 3 * C);
  auto loss = [&] {
    Cpu::attention_forward(B, T, H, D, qkv.data(), probs.data(), out.data());
    return fd::dot(out, r);
  };
  loss();
  for (int t = 0; t < T; ++t) {
    double sum = 0;
    for (int j = 0; j < T; ++j) {
      const double p = probs[t * T + j];
      sum += p;
      if (j > t) CHECK(p == 0.0);
    }
    CHECK(sum == doctest::Approx(1.0));
  }
  Cpu::attention_backward(B, T, H, D, qkv.data(), probs.data(), r.data(), dprobs.data(),
                          dqkv.data());
  fd::check("dqkv", qkv, dqkv, loss);
  // changing a later token leaves earlier outputs alone
  const Vec before = out;
  qkv[(T - 1) * 3 * C + C] += 1.0;  // k of the last position, batch 0
  loss();
  for (int t = 0; t < T - 1; ++t)
    for (int j = 0; j < C; ++j) CHECK(out[t * C + j] == before[t * C + j]);
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
    return Cpu::cross_entropy(R, V, copy.data(), labels, n, false, row.data()) / n;
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
  const double total = Cpu::cross_entropy(R, V, grad.data(), labels, n, true, row.data());
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

TEST_CASE("fast_exp: relative error below 2e-7 over the float range, no inf or 0") {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.0007f)
    worst = std::max(worst, std::abs(double(fast_exp(x)) / std::exp(double(x)) - 1));
  CHECK(worst < 2e-7);
  CHECK(fast_exp(-1000.f) > 0.f);
  CHECK(std::isfinite(fast_exp(1000.f)));
  CHECK(fast_exp(0.f) == 1.f);
}
