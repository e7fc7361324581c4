// The CUDA backend against the CPU backend: every kernel (the fused boundaries of many specs,
// every norm kind inside attention, a user branch's elementwise op), every tiny model's loss
// and gradients in fp32 and bf16, and bitwise determinism. Compiled as CUDA wherever nvcc is
// (so the kernels of these models and specs are compiled with it); on a machine without a GPU
// it runs no case and exits with 77, which CTest reports as skipped (gpu_main.cpp).
//
// Tolerances (relative L2 error per tensor): fp32 GEMMs (cuBLAS PEDANTIC) 1e-4 — only the
// order of summation differs from the CPU; bf16 GEMM inputs (8-bit mantissa, fp32
// accumulation) 3e-2 for gradients and 1e-2 for the loss.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <mixln/cuda/backend.hpp>
#include <mixln/mixln.hpp>
#include <random>
#include <vector>

#include "cuda_cases.hpp"

using namespace mixln;
using Gpu = mixln::cuda::Backend;
using Cpu = cpu::Backend<float>;

namespace {

std::vector<float> random_vec(std::size_t n, unsigned seed, float scale = 1.f, float mean = 0.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Device copy of host data, freed at scope end.
struct Dev {
  mixln::cuda::DeviceBuffer<float> buf;
  explicit Dev(const std::vector<float>& h) : buf(h.size()) { mixln::cuda::copy_h2d(buf.data(), h.data(), h.size() * 4); }
  explicit Dev(std::size_t n) : buf(n) { buf.zero(); }
  float* p() { return buf.data(); }
  std::vector<float> host() {
    std::vector<float> h(buf.size());
    mixln::cuda::copy_d2h(h.data(), buf.data(), h.size() * 4);
    return h;
  }
};

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

// Random norm parameters around their init, one vector per parameter, for rows of n.
template <class Norms>
std::vector<std::vector<float>> random_params(int n, unsigned seed) {
  std::vector<std::vector<float>> out;
  Norms::for_each([&]<int I>() {
    using K = typename Norms::template at<I>;
    for (const auto& p : K::params)
      out.push_back(random_vec(p.per_channel ? std::size_t(n) : 1, seed++, 0.2f, float(p.init == 0 ? 0.0 : p.init)));
  });
  return out;
}

template <class Spec>
void check_boundary() {
  const int R = 70, n = 96;  // more rows than one chunk, n not a multiple of the block
  auto x = random_vec(R * n, 1), f = random_vec(R * n, 2), x0 = random_vec(R * n, 3), dy = random_vec(R * n, 7),
       dh = random_vec(R * n, 8), dk = random_vec(R * n, 9);
  const auto w = random_params<typename Spec::norms>(n, 10);
  const std::size_t S = std::size_t(std::max(Spec::num_stats, 1)), P = std::size_t(Spec::num_params);
  // CPU
  std::vector<float> y(R * n), h(R * n), st(R * S), df(R * n), dyc = dy, dkc = dk,
      part(std::size_t(row_chunks(R)) * (P + 1) * n);
  std::vector<std::vector<float>> bufs(std::size_t(Spec::num_norms), std::vector<float>(R * n)), dw;
  for (auto& v : w) dw.emplace_back(v.size(), 0.f);
  BoundaryArgs<Spec, float> b;
  BoundaryGradArgs<Spec, float> g;
  b.x = x.data(), b.f = f.data(), b.x0 = x0.data(), b.y = y.data(), b.h = h.data(), b.stats = st.data();
  for (int i = 0; i < Spec::num_norms; ++i) b.in[i] = bufs[std::size_t(i)].data();
  if (Spec::nb > 0) b.in[0] = f.data();
  if (Spec::ns > 0) b.in[Spec::first_start] = y.data();
  for (int p = 0; p < Spec::num_params; ++p) b.w[p] = w[std::size_t(p)].data(), g.dw[p] = dw[std::size_t(p)].data();
  b.a = 1.3f, b.c = 0.7f;
  g.dy_ext = g.dx = dyc.data(), g.dskip_in = g.dskip_out = dkc.data(), g.dh = dh.data(), g.df = df.data();
  g.partials = part.data();
  Cpu::boundary_forward<Spec>(R, n, b);
  Cpu::boundary_backward<Spec>(R, n, b, g);
  // GPU: the same buffers on the device
  Dev X(x), F(f), X0(x0), Y(R * n), Hh(R * n), ST(R * S), DY(dy), DK(dk), DH(dh), DF(R * n), PART(part.size());
  std::vector<std::unique_ptr<Dev>> BUF, W, DW;
  for (auto& v : bufs) BUF.push_back(std::make_unique<Dev>(v.size()));
  for (auto& v : w) W.push_back(std::make_unique<Dev>(v));
  for (auto& v : dw) DW.push_back(std::make_unique<Dev>(v.size()));
  BoundaryArgs<Spec, float> bd;
  BoundaryGradArgs<Spec, float> gd;
  bd.x = X.p(), bd.f = F.p(), bd.x0 = X0.p(), bd.y = Y.p(), bd.h = Hh.p(), bd.stats = ST.p();
  for (int i = 0; i < Spec::num_norms; ++i) bd.in[i] = BUF[std::size_t(i)]->p();
  if (Spec::nb > 0) bd.in[0] = F.p();
  if (Spec::ns > 0) bd.in[Spec::first_start] = Y.p();
  for (int p = 0; p < Spec::num_params; ++p) bd.w[p] = W[std::size_t(p)]->p(), gd.dw[p] = DW[std::size_t(p)]->p();
  bd.a = 1.3f, bd.c = 0.7f;
  gd.dy_ext = gd.dx = DY.p(), gd.dskip_in = gd.dskip_out = DK.p(), gd.dh = DH.p(), gd.df = DF.p();
  gd.partials = PART.p();
  Gpu::boundary_forward<Spec>(R, n, bd);
  Gpu::boundary_backward<Spec>(R, n, bd, gd);
  INFO("boundary: " << describe_boundary<Spec>());
  CHECK(rel_err(Y.host(), y) < 1e-5);
  if (Spec::ns > 0) CHECK(rel_err(Hh.host(), h) < 1e-5);
  CHECK(rel_err(DF.host(), df) < 1e-5);
  if (Spec::residual) CHECK(rel_err(DY.host(), dyc) < 1e-5);
  if (Spec::skip) CHECK(rel_err(DK.host(), dkc) < 1e-5);
  for (int p = 0; p < Spec::num_params; ++p) {
    INFO("parameter " << p);
    CHECK(rel_err(DW[std::size_t(p)]->host(), dw[std::size_t(p)]) < 1e-5);
  }
}

// One norm over the per-head (or full-width) k columns of a [R, 3C] buffer, forward and backward.
template <class K>
void check_norm_rows(int groups) {
  const int R = 70, H = 4, D = 64, C = H * D, n = groups > 1 ? D : C, rows = R * groups;
  auto x = random_vec(std::size_t(R) * 3 * C, 31), d = random_vec(std::size_t(R) * 3 * C, 32);
  const auto w = random_params<norm_list<K>>(n, 33);
  const std::size_t S = std::size_t(std::max(K::num_stats, 1)), P = K::params.size();
  std::vector<float> y(x.size()), st(rows * S), part(std::size_t(row_chunks(rows)) * (P + 1) * n), dc = d;
  std::vector<std::vector<float>> dw;
  std::vector<float*> wp, dwp;
  for (auto& v : w) dw.emplace_back(v.size(), 0.f);
  for (std::size_t p = 0; p < P; ++p) wp.push_back(const_cast<float*>(w[p].data())), dwp.push_back(dw[p].data());
  auto view = [&](float* base) { return RowsView<float>{base + C, groups, std::size_t(3 * C)}; };
  auto cview = [&](const float* base) { return RowsView<const float>{base + C, groups, std::size_t(3 * C)}; };
  Cpu::norm_rows_forward<K>(rows, n, cview(x.data()), view(y.data()), wp.data(), st.data());
  Cpu::norm_rows_backward<K>(rows, n, cview(x.data()), st.data(), wp.data(), cview(dc.data()), view(dc.data()),
                             dwp.data(), part.data());
  Dev X(x), Y(y.size()), ST(st.size()), DD(d), PART(part.size());
  std::vector<std::unique_ptr<Dev>> W, DW;
  std::vector<float*> Wp, DWp;
  for (auto& v : w) W.push_back(std::make_unique<Dev>(v)), Wp.push_back(W.back()->p());
  for (auto& v : dw) DW.push_back(std::make_unique<Dev>(v.size())), DWp.push_back(DW.back()->p());
  Gpu::norm_rows_forward<K>(rows, n, cview(X.p()), view(Y.p()), Wp.data(), ST.p());
  Gpu::norm_rows_backward<K>(rows, n, cview(X.p()), ST.p(), Wp.data(), cview(DD.p()), view(DD.p()), DWp.data(),
                             PART.p());
  INFO(K::name << (groups > 1 ? " per head" : " full width"));
  CHECK(rel_err(Y.host(), y) < 1e-5);
  CHECK(rel_err(DD.host(), dc) < 1e-5);
  for (std::size_t p = 0; p < P; ++p) CHECK(rel_err(DW[p]->host(), dw[p]) < 1e-5);
}

template <class Net, class B>
std::pair<double, std::vector<float>> loss_and_grads(const std::vector<float>& params, const std::vector<std::int32_t>& tok,
                                                     const std::vector<std::int32_t>& lab, int Bn, int T) {
  Engine<Net, B> e;
  std::copy(params.begin(), params.end(), e.params().begin());
  e.sync_to_device();
  e.zero_grad();
  const double loss = e.step(tok.data(), lab.data(), Bn, T, true).mean();
  e.sync_to_host();
  return {loss, std::vector<float>(e.grads().begin(), e.grads().end())};
}

}  // namespace

TEST_CASE("cuda: every boundary spec and norm kind matches the CPU, forward and backward") {
  mixln::cuda::set_gemm_precision(mixln::cuda::GemmPrecision::fp32);
  []<class... S>(type_list<S...>) { (check_boundary<S>(), ...); }(cuda_cases::specs{});
}

TEST_CASE("cuda: norms inside attention (QK-norm rows) and a user branch's elementwise op match the CPU") {
  check_norm_rows<RMSNorm>(4);
  check_norm_rows<RMSNorm>(1);
  check_norm_rows<LayerNorm>(4);
  check_norm_rows<DyT<>>(1);
  const std::size_t n = 10000;
  auto x = random_vec(n, 41, 2.f), dy = random_vec(n, 42);
  std::vector<float> y(n), dx(n);
  Dev X(x), Y(n), DY(dy), DX(n);
  Cpu::map_forward<gelu::GeluTanh>(n, x.data(), y.data());
  Gpu::map_forward<gelu::GeluTanh>(n, X.p(), Y.p());
  CHECK(rel_err(Y.host(), y) < 1e-6);
  Cpu::map_backward<gelu::GeluTanh>(n, x.data(), dy.data(), dx.data());
  Gpu::map_backward<gelu::GeluTanh>(n, X.p(), DY.p(), DX.p());
  CHECK(rel_err(DX.host(), dx) < 1e-6);
}

TEST_CASE("cuda: attention, RoPE, SwiGLU, cross-entropy, embedding, Adam match the CPU") {
  mixln::cuda::set_gemm_precision(mixln::cuda::GemmPrecision::fp32);
  const int B = 2, T = 37, H = 4, D = 16, C = H * D, I = 50, V = 300, R = B * T;
  auto qkv = random_vec(R * 3 * C, 11), dout = random_vec(R * C, 12);
  std::vector<float> cs(T * D / 2), sn(T * D / 2), probs(B * H * T * T), out(R * C), dp(probs.size()), dqkv(R * 3 * C);
  Cpu::rope_tables(T, D, cs.data(), sn.data());
  Dev CS(cs.size()), SN(sn.size());
  Gpu::rope_tables(T, D, CS.p(), SN.p());
  CHECK(rel_err(CS.host(), cs) < 1e-6);
  Dev QKV(qkv), P(probs.size()), O(R * C), DO(dout), DP(probs.size()), DQKV(R * 3 * C);
  Cpu::rope<false>(B, T, H, D, qkv.data(), cs.data(), sn.data());
  Gpu::rope<false>(B, T, H, D, QKV.p(), CS.p(), SN.p());
  CHECK(rel_err(QKV.host(), qkv) < 1e-6);
  Cpu::attention_forward(B, T, H, D, qkv.data(), probs.data(), out.data());
  Gpu::attention_forward(B, T, H, D, QKV.p(), P.p(), O.p());
  CHECK(rel_err(P.host(), probs) < 1e-5);
  CHECK(rel_err(O.host(), out) < 1e-5);
  Cpu::attention_backward(B, T, H, D, qkv.data(), probs.data(), dout.data(), dp.data(), dqkv.data());
  Gpu::attention_backward(B, T, H, D, QKV.p(), P.p(), DO.p(), DP.p(), DQKV.p());
  Cpu::rope<true>(B, T, H, D, dqkv.data(), cs.data(), sn.data());
  Gpu::rope<true>(B, T, H, D, DQKV.p(), CS.p(), SN.p());
  CHECK(rel_err(DQKV.host(), dqkv) < 1e-5);

  auto gu = random_vec(R * 2 * I, 13, 2.f), dact = random_vec(R * I, 14);
  std::vector<float> act(R * I), dgu(R * 2 * I);
  Dev GU(gu), ACT(R * I), DACT(dact), DGU(R * 2 * I);
  Cpu::swiglu_forward(R, I, gu.data(), act.data());
  Gpu::swiglu_forward(R, I, GU.p(), ACT.p());
  CHECK(rel_err(ACT.host(), act) < 1e-6);
  Cpu::swiglu_backward(R, I, gu.data(), dact.data(), dgu.data());
  Gpu::swiglu_backward(R, I, GU.p(), DACT.p(), DGU.p());
  CHECK(rel_err(DGU.host(), dgu) < 1e-6);

  auto z = random_vec(R * V, 15, 3.f);
  std::vector<std::int32_t> lab(R);
  for (int r = 0; r < R; ++r) lab[r] = r % 5 == 0 ? -100 : (r * 37) % V;
  mixln::cuda::DeviceBuffer<std::int32_t> LAB(R);
  mixln::cuda::copy_h2d(LAB.data(), lab.data(), R * 4);
  std::vector<float> rl(R);
  Dev Z(z), RL(R);
  const double lc = Cpu::cross_entropy(R, V, z.data(), lab.data(), 60, true, rl.data());
  const double lg = Gpu::cross_entropy(R, V, Z.p(), LAB.data(), 60, true, RL.p());
  CHECK(lg == doctest::Approx(lc).epsilon(1e-5));
  CHECK(rel_err(Z.host(), z) < 1e-5);

  std::vector<std::int32_t> tok(R);
  for (int r = 0; r < R; ++r) tok[r] = (r * 7) % 11;  // repeated tokens
  mixln::cuda::DeviceBuffer<std::int32_t> TOK(R);
  mixln::cuda::copy_h2d(TOK.data(), tok.data(), R * 4);
  auto table = random_vec(11 * C, 16), demb = random_vec(R * C, 17);
  std::vector<float> e(R * C), dt(11 * C, 0.f);
  Dev TABLE(table), E(R * C), DEMB(demb), DT(11 * C);
  Cpu::embedding_forward(R, C, tok.data(), table.data(), e.data());
  Gpu::embedding_forward(R, C, TOK.data(), TABLE.p(), E.p());
  CHECK(E.host() == e);
  Cpu::embedding_backward(R, C, tok.data(), demb.data(), dt.data());
  Gpu::embedding_backward(R, C, TOK.data(), DEMB.p(), DT.p());
  CHECK(DT.host() == dt);  // same order of accumulation

  auto p = random_vec(1000, 18), g = random_vec(1000, 19), m = random_vec(1000, 20, 0.1f), v = random_vec(1000, 21, 0.1f);
  for (auto& x : v) x = std::abs(x);
  Dev Pp(p), G(g), M(m), Vv(v);
  const AdamHyper hy{1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, true, 0.19f, 0.002f};
  Cpu::adam_update(p.data(), g.data(), m.data(), v.data(), 1000, hy, true);
  Gpu::adam_update(Pp.p(), G.p(), M.p(), Vv.p(), 1000, hy, true);
  CHECK(rel_err(Pp.host(), p) < 1e-6);
  CHECK(Gpu::sum_squares(G.p(), 1000) == doctest::Approx(Cpu::sum_squares(g.data(), 1000)).epsilon(1e-9));
}

TEST_CASE("cuda: every tiny model's loss and gradients match the CPU in fp32 and bf16") {
  const int Bn = 2, T = 32;
  std::vector<std::int32_t> tok(Bn * T), lab(Bn * T);
  for (int i = 0; i < Bn * T; ++i) tok[i] = (i * 37) % 512, lab[i] = i % 9 == 0 ? -100 : (i * 91 + 5) % 512;
  auto run = [&]<class Net>(Net*) {
    const ParamLayout lay = make_param_layout<Net>();
    std::vector<float> params(lay.total);
    init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 3, .std = 0.1});
    const auto [lc, gc] = loss_and_grads<Net, Cpu>(params, tok, lab, Bn, T);
    for (auto prec : {mixln::cuda::GemmPrecision::fp32, mixln::cuda::GemmPrecision::bf16}) {
      mixln::cuda::set_gemm_precision(prec);
      const bool bf16 = prec == mixln::cuda::GemmPrecision::bf16;
      const auto [lg, gg] = loss_and_grads<Net, Gpu>(params, tok, lab, Bn, T);
      INFO(Net::placement_names[0] << " " << Net::block_names[0] << (bf16 ? " bf16" : " fp32"));
      CHECK(std::abs(lg - lc) / lc < (bf16 ? 1e-2 : 1e-5));
      for (auto& p : lay.params) {
        std::vector<float> a(gg.begin() + long(p.offset), gg.begin() + long(p.offset + p.count)),
            b(gc.begin() + long(p.offset), gc.begin() + long(p.offset + p.count));
        INFO(p.name);
        CHECK(rel_err(a, b) < (bf16 ? 3e-2 : 1e-4));
      }
    }
  };
  []<class... M>(type_list<M...>, auto& r) { (r((M*)nullptr), ...); }(cuda_cases::models{}, run);
}

TEST_CASE("cuda: a step is bitwise deterministic") {
  using Net = examples::tiny::mixln;
  mixln::cuda::set_gemm_precision(mixln::cuda::GemmPrecision::bf16);
  const ParamLayout lay = make_param_layout<Net>();
  std::vector<float> params(lay.total);
  init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 4});
  std::vector<std::int32_t> tok(4 * 64), lab(4 * 64);
  for (int i = 0; i < 4 * 64; ++i) tok[i] = (i * 13) % 512, lab[i] = (i * 29 + 1) % 512;
  const auto a = loss_and_grads<Net, Gpu>(params, tok, lab, 4, 64);
  const auto b = loss_and_grads<Net, Gpu>(params, tok, lab, 4, 64);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
}
