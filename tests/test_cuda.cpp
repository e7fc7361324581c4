// The CUDA backend against the CPU backend: every kernel, the whole tiny model's loss and
// gradients in fp32 and bf16, training steps, and bitwise determinism. Compiled wherever nvcc
// is; on a machine without a GPU every case says so and passes without running.
//
// Tolerances (relative L2 error per tensor): fp32 GEMMs (cuBLAS PEDANTIC) 1e-4 — only the
// order of summation differs from the CPU; bf16 GEMM inputs (8-bit mantissa, fp32
// accumulation) 3e-2 for gradients and 1e-2 for the loss.
#include <doctest/doctest.h>

#include <cmath>
#include <mixln/cuda/backend.hpp>
#include <mixln/mixln.hpp>
#include <random>
#include <vector>

#include "configs.hpp"

using namespace mixln;
using Gpu = cuda::Backend;
using Cpu = cpu::Backend<float>;

namespace {

bool have_gpu() {
  static const bool yes = [] {
    const int n = cuda::device_count();
    if (n == 0) std::printf("test_cuda: no CUDA device found (cudaGetDeviceCount reports none): skipping GPU checks\n");
    else std::printf("test_cuda: running on %s\n", cuda::device_name().c_str());
    return n > 0;
  }();
  return yes;
}
#define REQUIRE_GPU()                                          \
  do {                                                         \
    if (!have_gpu()) {                                         \
      MESSAGE("skipped: no CUDA device on this machine");     \
      return;                                                  \
    }                                                          \
  } while (0)

std::vector<float> random_vec(std::size_t n, unsigned seed, float scale = 1.f, float mean = 0.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(mean, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Device copy of host data, freed at scope end.
struct Dev {
  cuda::DeviceBuffer<float> buf;
  explicit Dev(const std::vector<float>& h) : buf(h.size()) { cuda::copy_h2d(buf.data(), h.data(), h.size() * 4); }
  explicit Dev(std::size_t n) : buf(n) { buf.zero(); }
  float* p() { return buf.data(); }
  std::vector<float> host() {
    std::vector<float> h(buf.size());
    cuda::copy_d2h(h.data(), buf.data(), h.size() * 4);
    return h;
  }
};

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

template <int Bits>
void check_boundary_kind() {
  constexpr BoundaryKind K = kind_of_bits(Bits);
  if constexpr (K.skip && !K.residual) {
    return;
  } else {
    const int R = 70, n = 96;  // more rows than one chunk, n not a multiple of the block
    auto x = random_vec(R * n, 1), f = random_vec(R * n, 2), x0 = random_vec(R * n, 3),
         wb = random_vec(n, 4, 0.2f, 1.f), we = random_vec(n, 5, 0.2f, 1.f), ws = random_vec(n, 6, 0.2f, 1.f),
         dy = random_vec(R * n, 7), dh = random_vec(R * n, 8), dk = random_vec(R * n, 9);
    // CPU
    std::vector<float> s(R * n), y(R * n), h(R * n), st(3 * R), dx(R * n), dsk(R * n), df(R * n), dwb(n), dwe(n),
        dws(n), part(std::size_t(row_chunks(R)) * 4 * n), dyc = dy, dskc = dk;
    BoundaryBuffers<float> b{x.data(), f.data(), x0.data(), s.data(), y.data(), h.data(), st.data(),
                             wb.data(), we.data(), ws.data(), 1.3f, 0.7f};
    Cpu::boundary_forward<K>(R, n, b);
    BoundaryGradBuffers<float> g{dyc.data(), dskc.data(), dh.data(), dyc.data(), dskc.data(), df.data(),
                                 dwb.data(), dwe.data(), dws.data(), part.data()};
    Cpu::boundary_backward<K>(R, n, b, g);
    // GPU
    Dev X(x), F(f), X0(x0), WB(wb), WE(we), WS(ws), S(R * n), Y(R * n), Hh(R * n), ST(3 * R), DY(dy), DK(dk), DH(dh),
        DF(R * n), DWB(n), DWE(n), DWS(n), PART(part.size());
    BoundaryBuffers<float> bd{X.p(), F.p(), X0.p(), S.p(), Y.p(), Hh.p(), ST.p(), WB.p(), WE.p(), WS.p(), 1.3f, 0.7f};
    Gpu::boundary_forward<K>(R, n, bd);
    BoundaryGradBuffers<float> gd{DY.p(), DK.p(), DH.p(), DY.p(), DK.p(), DF.p(), DWB.p(), DWE.p(), DWS.p(), PART.p()};
    Gpu::boundary_backward<K>(R, n, bd, gd);
    INFO("kind bits " << Bits);
    CHECK(rel_err(Y.host(), y) < 1e-5);
    if (K.start_norm) CHECK(rel_err(Hh.host(), h) < 1e-5);
    CHECK(rel_err(DF.host(), df) < 1e-5);
    if (K.residual) CHECK(rel_err(DY.host(), dyc) < 1e-5);
    if (K.skip) CHECK(rel_err(DK.host(), dskc) < 1e-5);
    if (K.branch_norm) CHECK(rel_err(DWB.host(), dwb) < 1e-5);
    if (K.end_norm) CHECK(rel_err(DWE.host(), dwe) < 1e-5);
    if (K.start_norm) CHECK(rel_err(DWS.host(), dws) < 1e-5);
  }
}

template <class Net, class B>
std::pair<double, std::vector<float>> loss_and_grads(const std::vector<float>& params, const std::vector<std::int32_t>& tok,
                                                     const std::vector<std::int32_t>& lab, int Bn, int T) {
  Engine<Net, B> e;
  std::copy(params.begin(), params.end(), e.params().begin());
  e.sync_to_device();
  e.zero_grad();
  const double loss = e.step(tok.data(), lab.data(), Bn, T, true);
  e.sync_to_host();
  return {loss, std::vector<float>(e.grads().begin(), e.grads().end())};
}

}  // namespace

TEST_CASE("cuda: every boundary kind matches the CPU, forward and backward") {
  REQUIRE_GPU();
  cuda::set_gemm_precision(cuda::GemmPrecision::fp32);
  []<int... b>(std::integer_sequence<int, b...>) { (check_boundary_kind<b>(), ...); }(std::make_integer_sequence<int, 64>{});
}

TEST_CASE("cuda: attention, RoPE, SwiGLU, cross-entropy, embedding, Adam match the CPU") {
  REQUIRE_GPU();
  cuda::set_gemm_precision(cuda::GemmPrecision::fp32);
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
  cuda::DeviceBuffer<std::int32_t> LAB(R);
  cuda::copy_h2d(LAB.data(), lab.data(), R * 4);
  std::vector<float> rl(R);
  Dev Z(z), RL(R);
  const double lc = Cpu::cross_entropy(R, V, z.data(), lab.data(), 60, true, rl.data());
  const double lg = Gpu::cross_entropy(R, V, Z.p(), LAB.data(), 60, true, RL.p());
  CHECK(lg == doctest::Approx(lc).epsilon(1e-5));
  CHECK(rel_err(Z.host(), z) < 1e-5);

  std::vector<std::int32_t> tok(R);
  for (int r = 0; r < R; ++r) tok[r] = (r * 7) % 11;  // repeated tokens
  cuda::DeviceBuffer<std::int32_t> TOK(R);
  cuda::copy_h2d(TOK.data(), tok.data(), R * 4);
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

TEST_CASE("cuda: the tiny models' loss and gradients match the CPU in fp32 and bf16") {
  REQUIRE_GPU();
  const int Bn = 2, T = 32;
  std::vector<std::int32_t> tok(Bn * T), lab(Bn * T);
  for (int i = 0; i < Bn * T; ++i) tok[i] = (i * 37) % 512, lab[i] = i % 9 == 0 ? -100 : (i * 91 + 5) % 512;
  auto run = [&]<class Net>(Net*) {
    const ParamLayout lay = make_param_layout<Net>();
    std::vector<float> params(lay.total);
    init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 3, .std = 0.1});
    const auto [lc, gc] = loss_and_grads<Net, Cpu>(params, tok, lab, Bn, T);
    for (auto prec : {cuda::GemmPrecision::fp32, cuda::GemmPrecision::bf16}) {
      cuda::set_gemm_precision(prec);
      const bool bf16 = prec == cuda::GemmPrecision::bf16;
      const auto [lg, gg] = loss_and_grads<Net, Gpu>(params, tok, lab, Bn, T);
      INFO(Net::placement_names[0] << (bf16 ? " bf16" : " fp32"));
      CHECK(std::abs(lg - lc) / lc < (bf16 ? 1e-2 : 1e-5));
      for (auto& p : lay.params) {
        std::vector<float> a(gg.begin() + long(p.offset), gg.begin() + long(p.offset + p.count)),
            b(gc.begin() + long(p.offset), gc.begin() + long(p.offset + p.count));
        INFO(p.name);
        CHECK(rel_err(a, b) < (bf16 ? 3e-2 : 1e-4));
      }
    }
  };
  run((examples::tiny::mixln*)nullptr);
  run((examples::tiny::sandwich*)nullptr);
  run((examples::tiny::deepnorm*)nullptr);
  run((examples::tiny::lns*)nullptr);
}

TEST_CASE("cuda: a step is bitwise deterministic") {
  REQUIRE_GPU();
  using Net = examples::tiny::mixln;
  cuda::set_gemm_precision(cuda::GemmPrecision::bf16);
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
