// The CUDA backend against the CPU backend: every kernel (the fused boundaries of many specs,
// every norm kind inside attention, a user branch's elementwise op), every tiny model's loss
// and gradients in fp32 and bf16, and bitwise determinism. Compiled as CUDA wherever nvcc is
// (so the kernels of these models and specs are compiled with it); on a machine without a GPU
// it runs no case and exits with 77, which CTest reports as skipped (gpu_main.cpp).
//
// Tolerances (relative L2 error per tensor): fp32 GEMMs (cuBLAS PEDANTIC) 1e-4 — only the
// order of summation differs from the CPU; bf16 GEMM inputs (8-bit mantissa, fp32
// accumulation) against the CPU's bf16 with fp32 activations (CpuFp32Activations: the same
// rounding points): the loss 1e-4, the whole
// gradient 1.5e-2, each tensor 1e-1 (test_bf16.cpp says why two bf16 runs differ that much),
// and against fp32 the loss 1e-3 and the whole gradient 5e-2; TF32 2e-3 for the loss. Row kernels
// run at LLaMA-7B's sizes too; training steps (accumulation, clipping, AdamW, eval, TF32, a
// checkpoint round trip) run on arenas filled with NaN first.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <mixln/cuda/backend.hpp>
#include <mixln/io/model_io.hpp>
#include <mixln/mixln.hpp>
#include <mixln/train/optimizer.hpp>
#include <random>
#include <string>
#include <vector>

#include "cuda_cases.hpp"

using namespace mixln;
using Gpu = mixln::cuda::Backend;
using Cpu = cpu::Backend<float>;
// The CPU with the CUDA backend's rounding points under bf16: its activations stay fp32 (the CUDA
// backend does not store bf16 activations yet: cuda/backend.hpp), so only GEMM inputs are rounded.
struct CpuFp32Activations : Cpu {
  static constexpr bool bf16_activations = mixln::backend_stores_bf16<Gpu>;
};

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

// A device buffer of n NaNs: an output a kernel leaves unwritten shows up in the comparison.
Dev poisoned(std::size_t n) { return Dev(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN())); }

// One double in device memory, and its value.
struct DevScalar {
  mixln::cuda::DeviceBuffer<double> buf{1};
  explicit DevScalar(double v = 0) { mixln::cuda::copy_h2d(buf.data(), &v, sizeof v); }
  double* p() { return buf.data(); }
  double value() {
    double v = 0;
    mixln::cuda::copy_d2h(&v, buf.data(), sizeof v);
    return v;
  }
};

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < a.size(); ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

std::vector<float> slice(const std::vector<float>& v, std::size_t offset, std::size_t count) {
  return std::vector<float>(v.begin() + long(offset), v.begin() + long(offset + count));
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

// Defaults: more rows than one chunk, n not a multiple of the block.
template <class Spec>
void check_boundary(const int R = 70, const int n = 96) {
  auto x = random_vec(R * n, 1), f = random_vec(R * n, 2), x0 = random_vec(R * n, 3), dy = random_vec(R * n, 7),
       dh = random_vec(R * n, 8), dk = random_vec(R * n, 9);
  const auto w = random_params<typename Spec::norms>(n, 10);
  const std::size_t S = std::size_t(std::max(Spec::num_stats, 1)), P = std::size_t(Spec::num_params);
  // CPU
  std::vector<float> y(R * n), h(R * n), st(R * S), df(R * n), dyc = dy, dkc = dk,
      part(std::size_t(partial_rows(R)) * (P + 1) * n);
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
void check_norm_rows(int groups, const int R = 70, const int H = 4, const int D = 64) {
  const int C = H * D, n = groups > 1 ? D : C, rows = R * groups;
  auto x = random_vec(std::size_t(R) * 3 * C, 31), d = random_vec(std::size_t(R) * 3 * C, 32);
  const auto w = random_params<norm_list<K>>(n, 33);
  const std::size_t S = std::size_t(std::max(K::num_stats, 1)), P = K::params.size();
  std::vector<float> y(x.size()), st(rows * S), part(std::size_t(partial_rows(rows)) * (P + 1) * n), dc = d;
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

template <class Net, class B, class In = std::int32_t>
std::pair<double, std::vector<float>> loss_and_grads(Precision precision, const std::vector<float>& params,
                                                     const std::vector<In>& tok,
                                                     const std::vector<std::int32_t>& lab, int Bn, int T) {
  Engine<Net, B> e(precision);
  std::copy(params.begin(), params.end(), e.params().begin());
  e.sync_to_device();
  e.zero_grad();
  const double loss = e.step(tok.data(), lab.data(), Bn, T, true).mean();
  e.sync_to_host();
  return {loss, std::vector<float>(e.grads().begin(), e.grads().end())};
}

}  // namespace

TEST_CASE("cuda: a whole ViT (patches, class token, position embeddings, ViT blocks in Mix-LN, the class head) "
          "matches the CPU in fp32") {
  using VCfg = LlamaConfig<hidden<64>, intermediate<128>, heads<2>>;  // head dim 32
  using Vb = VitBlock<VCfg>;
  using Net = Model<VCfg, MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>, LayerNorm, PlainEmbedding,
                    PatchEmbedding<VCfg, image<12>, patch<3>, channels<3>>, ClassHead<VCfg, classes<5>>>;
  const ParamLayout lay = make_param_layout<Net>();
  std::vector<float> params(lay.total);
  init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 3, .std = 0.1, .embed_std = 0.1});
  const int B = 6, T = Net::input::fixed_seq;
  const std::vector<float> px = random_vec(std::size_t(B) * 12 * 12 * 3, 51);
  const std::vector<std::int32_t> lab = {0, 4, 2, -100, 1, 3};
  const auto [lc, gc] = loss_and_grads<Net, Cpu>(Precision::fp32, params, px, lab, B, T);
  const auto [lg, gg] = loss_and_grads<Net, Gpu>(Precision::fp32, params, px, lab, B, T);
  CHECK(std::abs(lg - lc) / lc < 1e-5);
  for (auto& p : lay.params) {
    INFO(p.name);
    CHECK(rel_err(slice(gg, p.offset, p.count), slice(gc, p.offset, p.count)) < 1e-4);
  }
}

TEST_CASE("cuda: every boundary spec and norm kind matches the CPU, forward and backward") {
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
  // the ViT MLP's exact GELU (math/gelu.hpp: erf on both sides)
  Cpu::map_forward<GeluErf>(n, x.data(), y.data());
  Gpu::map_forward<GeluErf>(n, X.p(), Y.p());
  CHECK(rel_err(Y.host(), y) < 1e-6);
  Cpu::map_backward<GeluErf>(n, x.data(), dy.data(), dx.data());
  Gpu::map_backward<GeluErf>(n, X.p(), DY.p(), DX.p());
  CHECK(rel_err(DX.host(), dx) < 1e-6);
}

TEST_CASE("cuda: a linear layer's bias, forward and backward, matches the CPU (rows not a multiple of the tiles)") {
  for (const auto [rows, n] : {std::pair{1, 1}, std::pair{37, 33}, std::pair{6400, 768}}) {
    INFO(rows << " x " << n);
    auto y = random_vec(std::size_t(rows) * n, 41), b = random_vec(std::size_t(n), 42), db = random_vec(std::size_t(n), 43);
    Dev Y(y), Bd(b), DB(db);
    Cpu::bias_forward(rows, n, b.data(), y.data());
    Gpu::bias_forward(rows, n, Bd.p(), Y.p());
    CHECK(rel_err(Y.host(), y) < 1e-7);
    Cpu::bias_backward(rows, n, y.data(), db.data());  // += the column sums
    Gpu::bias_backward(rows, n, Y.p(), DB.p());
    CHECK(rel_err(DB.host(), db) < 1e-5);
  }
}

TEST_CASE("cuda: attention, RoPE, SwiGLU, cross-entropy, embedding, Adam match the CPU") {
  const int B = 2, T = 37, H = 4, D = 16, C = H * D, I = 50, V = 300, R = B * T;
  auto qkv = random_vec(R * 3 * C, 11), dout = random_vec(R * C, 12);
  std::vector<float> cs(T * D / 2), sn(T * D / 2), stats(B * H * T * 2), out(R * C), delta(B * H * T), dqkv(R * 3 * C);
  Cpu::rope_tables(T, D, cs.data(), sn.data());
  Dev CS(cs.size()), SN(sn.size());
  Gpu::rope_tables(T, D, CS.p(), SN.p());
  CHECK(rel_err(CS.host(), cs) < 1e-6);
  Dev QKV(qkv), DO(dout);
  Cpu::rope(false, B, T, H, D, qkv.data(), cs.data(), sn.data());
  Gpu::rope(false, B, T, H, D, QKV.p(), CS.p(), SN.p());
  CHECK(rel_err(QKV.host(), qkv) < 1e-6);
  // the fused attention against the CPU's, in fp32 and in bf16 (operands rounded at the same
  // points); outputs poisoned with NaN first
  for (const AttentionMask mask : {AttentionMask::causal, AttentionMask::none})
  for (const Precision prec : {Precision::fp32, Precision::bf16}) {
    INFO("precision " << precision_name(prec) << ", mask " << attention_mask_name(mask));
    Dev ST = poisoned(stats.size()), O = poisoned(R * C), DELTA = poisoned(delta.size()), DQKV = poisoned(R * 3 * C);
    Cpu::attention_forward(prec, mask, B, T, H, D, qkv.data(), stats.data(), out.data());
    Gpu::attention_forward(prec, mask, B, T, H, D, QKV.p(), ST.p(), O.p());
    CHECK(rel_err(ST.host(), stats) < 1e-5);
    CHECK(rel_err(O.host(), out) < (prec == Precision::fp32 ? 1e-5 : 1e-2));
    Cpu::attention_backward(prec, mask, B, T, H, D, qkv.data(), out.data(), stats.data(), dout.data(), delta.data(), dqkv.data());
    Gpu::attention_backward(prec, mask, B, T, H, D, QKV.p(), O.p(), ST.p(), DO.p(), DELTA.p(), DQKV.p());
    CHECK(rel_err(DQKV.host(), dqkv) < (prec == Precision::fp32 ? 1e-5 : 2e-2));
  }
  // head dims 64 and 128 in bf16 take the tensor-core kernels (src/cuda/attention_mma.cuh), the
  // rest the SIMT ones: both against the CPU's bf16 attention, T not a multiple of any tile
  for (const AttentionMask mask : {AttentionMask::causal, AttentionMask::none})
  for (const int Dm : {48, 64, 128}) {
    INFO("bf16 attention, head dim " << Dm << ", mask " << attention_mask_name(mask));
    const int Hm = 2, Cm = Hm * Dm, Tm = 100, Rm = B * Tm;
    auto q = random_vec(std::size_t(Rm) * 3 * Cm, 31), o_grad = random_vec(std::size_t(Rm) * Cm, 32);
    std::vector<float> st(std::size_t(B) * Hm * Tm * 2), o(std::size_t(Rm) * Cm), dl(std::size_t(B) * Hm * Tm),
        dq(q.size());
    Dev Q(q), OG(o_grad), ST = poisoned(st.size()), O = poisoned(o.size()), DL = poisoned(dl.size()),
        DQ = poisoned(dq.size());
    Cpu::attention_forward(Precision::bf16, mask, B, Tm, Hm, Dm, q.data(), st.data(), o.data());
    Gpu::attention_forward(Precision::bf16, mask, B, Tm, Hm, Dm, Q.p(), ST.p(), O.p());
    CHECK(rel_err(ST.host(), st) < 1e-5);
    CHECK(rel_err(O.host(), o) < 1e-2);
    Cpu::attention_backward(Precision::bf16, mask, B, Tm, Hm, Dm, q.data(), o.data(), st.data(), o_grad.data(), dl.data(),
                            dq.data());
    Gpu::attention_backward(Precision::bf16, mask, B, Tm, Hm, Dm, Q.p(), O.p(), ST.p(), OG.p(), DL.p(), DQ.p());
    CHECK(rel_err(DQ.host(), dq) < 2e-2);
  }

  Cpu::attention_forward(Precision::fp32, AttentionMask::causal, B, T, H, D, qkv.data(), stats.data(), out.data());
  Cpu::attention_backward(Precision::fp32, AttentionMask::causal, B, T, H, D, qkv.data(), out.data(), stats.data(), dout.data(), delta.data(),
                          dqkv.data());
  Dev DQKV(dqkv);
  Cpu::rope(true, B, T, H, D, dqkv.data(), cs.data(), sn.data());
  Gpu::rope(true, B, T, H, D, DQKV.p(), CS.p(), SN.p());
  CHECK(rel_err(DQKV.host(), dqkv) < 1e-6);

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
  double lc = 2.0;  // cross_entropy adds the batch's loss sum to what is there
  DevScalar LG(2.0);
  Cpu::cross_entropy(R, V, z.data(), lab.data(), 60, true, z.data(), rl.data(), &lc);
  Gpu::cross_entropy(R, V, Z.p(), LAB.data(), 60, true, Z.p(), RL.p(), LG.p());
  CHECK(LG.value() == doctest::Approx(lc).epsilon(1e-5));
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
  // three chunks in one launch, the middle one not decayed; the moments start 100 elements in
  const std::vector<AdamChunk> chunks = {{0, 0, 400, 1}, {400, 400, 100, 0}, {500, 500, 400, 1}};
  mixln::cuda::DeviceBuffer<AdamChunk> CH(chunks.size());
  mixln::cuda::copy_h2d(CH.data(), chunks.data(), chunks.size() * sizeof(AdamChunk));
  const std::vector<float> p0 = Pp.host();
  DevScalar SS_BAD, LOSS_OK(1.0);
  mixln::cuda::DeviceBuffer<double> CHECK_BAD(2);
  const double bad[2] = {1.0, std::numeric_limits<double>::quiet_NaN()};
  mixln::cuda::copy_h2d(CHECK_BAD.data(), bad, sizeof bad);
  Gpu::adam_update(Pp.p(), G.p(), M.p(), Vv.p(), CH.data(), 3, hy, CHECK_BAD.data());  // skipped: NaN norm
  CHECK(Pp.host() == p0);
  Cpu::adam_update(p.data(), g.data(), m.data(), v.data(), chunks.data(), 3, hy, nullptr);
  Gpu::adam_update(Pp.p(), G.p(), M.p(), Vv.p(), CH.data(), 3, hy, nullptr);
  CHECK(rel_err(Pp.host(), p) < 1e-6);
  CHECK(rel_err(M.host(), m) < 1e-6);
  double ss_cpu = 0;
  DevScalar SS;
  Cpu::sum_squares(g.data(), 1000, &ss_cpu);
  Gpu::sum_squares(G.p(), 1000, SS.p());
  CHECK(SS.value() == doctest::Approx(ss_cpu).epsilon(1e-9));
  Cpu::clip_to_norm(g.data(), 1000, &ss_cpu, 0.5);
  Gpu::clip_to_norm(G.p(), 1000, SS.p(), 0.5);
  CHECK(rel_err(G.host(), g) < 1e-6);
}

TEST_CASE("cuda: every tiny model's loss and gradients match the CPU in fp32 and bf16") {
  const cuda_cases::TinyBatch b;
  auto run = [&]<class Net>(Net*) {
    const ParamLayout lay = make_param_layout<Net>();
    const std::vector<float> params = cuda_cases::tiny_params<Net>(lay);
    // The CPU references: fp32, and bf16 with the GPU's rounding points (cpu/gemm_bf16.hpp).
    const auto [lc, gc] = loss_and_grads<Net, Cpu>(Precision::fp32, params, b.tok, b.lab, b.B, b.T);
    const auto [lc16, gc16] =
        loss_and_grads<Net, CpuFp32Activations>(Precision::bf16, params, b.tok, b.lab, b.B, b.T);
    for (auto prec : {Precision::fp32, Precision::bf16}) {
      const bool bf16 = prec == Precision::bf16;
      const auto [lg, gg] = loss_and_grads<Net, Gpu>(prec, params, b.tok, b.lab, b.B, b.T);
      INFO(Net::placement_names[0] << " " << Net::block_names[0] << (bf16 ? " bf16" : " fp32"));
      if (!bf16) {
        CHECK(std::abs(lg - lc) / lc < 1e-5);
        for (auto& p : lay.params) {
          INFO(p.name);
          CHECK(rel_err(slice(gg, p.offset, p.count), slice(gc, p.offset, p.count)) < 1e-4);
        }
        continue;
      }
      // bf16 against the CPU's bf16, with the bounds test_bf16.cpp measured between two bf16
      // paths that round at the same points and sum in different orders; against fp32, looser.
      CHECK(std::abs(lg - lc16) / lc16 < 5e-4);
      CHECK(rel_err(gg, gc16) < 1.5e-2);
      for (auto& p : lay.params) {
        INFO(p.name);
        CHECK(rel_err(slice(gg, p.offset, p.count), slice(gc16, p.offset, p.count)) < 2.5e-1);
      }
      CHECK(std::abs(lg - lc) / lc < 1e-3);
      CHECK(rel_err(gg, gc) < 5e-2);
    }
  };
  []<class... M>(type_list<M...>, auto& r) { (r((M*)nullptr), ...); }(cuda_cases::models{}, run);
}

TEST_CASE("cuda: a step is bitwise deterministic") {
  using Net = examples::tiny::mixln;
  const ParamLayout lay = make_param_layout<Net>();
  std::vector<float> params(lay.total);
  init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 4});
  std::vector<std::int32_t> tok(4 * 64), lab(4 * 64);
  for (int i = 0; i < 4 * 64; ++i) tok[i] = (i * 13) % 512, lab[i] = (i * 29 + 1) % 512;
  const auto a = loss_and_grads<Net, Gpu>(Precision::bf16, params, tok, lab, 4, 64);
  const auto b = loss_and_grads<Net, Gpu>(Precision::bf16, params, tok, lab, 4, 64);
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
}

// LLaMA-7B's row sizes: hidden 4096, sequence 1024 (one sequence: 1024 rows), vocabulary 32000,
// 32 heads of 128, intermediate 11008. The CPU computes the references.
TEST_CASE("cuda: row kernels at LLaMA-7B sizes (C = 4096, T = 1024, vocab 32000)") {
  const int T = 1024, C = 4096, H = 32, D = 128, I = 11008, V = 32000;
  using namespace cuda_cases;
  check_boundary<Spec<true, false, false, L<>, L<>, L<R>>>(T, C);    // Pre-LN
  check_boundary<Spec<true, false, false, L<>, L<R>, L<>>>(T, C);    // Post-LN
  check_boundary<Spec<true, false, false, L<>, L<R>, L<R>>>(T, C);   // the Mix-LN transition
  check_boundary<Spec<true, false, false, L<N>, L<N>, L<N>>>(T, C);  // LayerNorm
  check_norm_rows<RMSNorm>(H, T, H, D);  // per-head QK-norm rows
  check_norm_rows<RMSNorm>(1, T, H, D);  // full width

  // embedding: tokens repeated as text repeats them (a few very frequent ones)
  std::vector<std::int32_t> tok(T);
  for (int r = 0; r < T; ++r) tok[r] = r % 3 == 0 ? 13 : r % 5 == 0 ? 31999 : (r * 7919) % V;
  mixln::cuda::DeviceBuffer<std::int32_t> TOK(T);
  mixln::cuda::copy_h2d(TOK.data(), tok.data(), T * 4);
  {
    auto table = random_vec(std::size_t(V) * C, 51, 0.02f), demb = random_vec(std::size_t(T) * C, 52);
    std::vector<float> e(std::size_t(T) * C), dt(std::size_t(V) * C, 0.f);
    Dev TABLE(table), E(std::size_t(T) * C), DEMB(demb), DT(std::size_t(V) * C);
    Cpu::embedding_forward(T, C, tok.data(), table.data(), e.data());
    Gpu::embedding_forward(T, C, TOK.data(), TABLE.p(), E.p());
    CHECK(E.host() == e);
    Cpu::embedding_backward(T, C, tok.data(), demb.data(), dt.data());
    Gpu::embedding_backward(T, C, TOK.data(), DEMB.p(), DT.p());
    CHECK(DT.host() == dt);  // rows of a token added in row order on both
  }
  {  // cross-entropy over 32000 logits, some labels ignored
    auto z = random_vec(std::size_t(T) * V, 53, 3.f);
    std::vector<std::int32_t> lab(T);
    for (int r = 0; r < T; ++r) lab[r] = r % 11 == 0 ? -100 : (r * 104729) % V;
    mixln::cuda::DeviceBuffer<std::int32_t> LAB(T);
    mixln::cuda::copy_h2d(LAB.data(), lab.data(), T * 4);
    std::vector<float> rl(T);
    Dev Z(z), RL(T);
    double lc = 0;
    DevScalar LG;
    Cpu::cross_entropy(T, V, z.data(), lab.data(), 900, true, z.data(), rl.data(), &lc);
    Gpu::cross_entropy(T, V, Z.p(), LAB.data(), 900, true, Z.p(), RL.p(), LG.p());
    CHECK(LG.value() == doctest::Approx(lc).epsilon(1e-5));
    CHECK(rel_err(Z.host(), z) < 1e-5);
  }
  {  // SwiGLU at the intermediate size
    auto gu = random_vec(std::size_t(T) * 2 * I, 54, 2.f), dact = random_vec(std::size_t(T) * I, 55);
    std::vector<float> act(std::size_t(T) * I), dgu(std::size_t(T) * 2 * I);
    Dev GU(gu), ACT(act.size()), DACT(dact), DGU(dgu.size());
    Cpu::swiglu_forward(T, I, gu.data(), act.data());
    Gpu::swiglu_forward(T, I, GU.p(), ACT.p());
    CHECK(rel_err(ACT.host(), act) < 1e-6);
    Cpu::swiglu_backward(T, I, gu.data(), dact.data(), dgu.data());
    Gpu::swiglu_backward(T, I, GU.p(), DACT.p(), DGU.p());
    CHECK(rel_err(DGU.host(), dgu) < 1e-6);
  }
  {  // attention over 1024 positions, 32 heads of 128, with RoPE
    auto qkv = random_vec(std::size_t(T) * 3 * C, 56), dout = random_vec(std::size_t(T) * C, 57);
    std::vector<float> cs(std::size_t(T) * D / 2), sn(cs.size()), stats(std::size_t(H) * T * 2), out(std::size_t(T) * C),
        delta(std::size_t(H) * T), dqkv(qkv.size());
    Cpu::rope_tables(T, D, cs.data(), sn.data());
    Dev CS(cs), SN(sn), QKV(qkv), DO(dout);
    Dev ST = poisoned(stats.size()), O = poisoned(out.size()), DELTA = poisoned(delta.size()), DQKV = poisoned(qkv.size());
    Cpu::rope(false, 1, T, H, D, qkv.data(), cs.data(), sn.data());
    Gpu::rope(false, 1, T, H, D, QKV.p(), CS.p(), SN.p());
    Cpu::attention_forward(Precision::fp32, AttentionMask::causal, 1, T, H, D, qkv.data(), stats.data(), out.data());
    Gpu::attention_forward(Precision::fp32, AttentionMask::causal, 1, T, H, D, QKV.p(), ST.p(), O.p());
    CHECK(rel_err(O.host(), out) < 1e-5);
    CHECK(rel_err(ST.host(), stats) < 1e-5);
    Cpu::attention_backward(Precision::fp32, AttentionMask::causal, 1, T, H, D, qkv.data(), out.data(), stats.data(), dout.data(), delta.data(),
                            dqkv.data());
    Gpu::attention_backward(Precision::fp32, AttentionMask::causal, 1, T, H, D, QKV.p(), O.p(), ST.p(), DO.p(), DELTA.p(), DQKV.p());
    CHECK(rel_err(DQKV.host(), dqkv) < 1e-4);
  }
}

namespace {

// Everything a training step does beyond one forward/backward, on one model, against the CPU.
template <class Net>
void check_training(const char* what) {
  INFO(what);
  const int Bn = 2, T = 48;
  std::vector<std::int32_t> tok(Bn * T), tok2(Bn * T), lab(Bn * T), lab2(Bn * T);
  for (int i = 0; i < Bn * T; ++i) {
    tok[i] = (i * 37) % 512, lab[i] = i % 9 == 0 ? -100 : (i * 91 + 5) % 512;
    tok2[i] = (i * 53 + 7) % 512, lab2[i] = (i * 17 + 3) % 512;
  }
  const ParamLayout lay = make_param_layout<Net>();
  std::vector<float> init(lay.total);
  init_params(lay, Net::num_layers, std::span<float>(init), {.seed = 5});
  Engine<Net, Cpu> c(Precision::fp32);
  Engine<Net, Gpu> g(Precision::fp32);
  std::copy(init.begin(), init.end(), c.params().begin());
  std::copy(init.begin(), init.end(), g.params().begin());
  g.sync_to_device();
  // an arena full of NaN: nothing may read a slot before writing it
  g.fill_arena(Bn, T, std::numeric_limits<float>::quiet_NaN());
  const OptimizerOptions opt{.weight_decay = 0.01f};
  AdamW<Cpu> ac(lay, opt);
  AdamW<Gpu> ag(lay, opt);
  for (int t = 1; t <= 3; ++t) {  // three steps of two accumulated micro-batches, clipped, AdamW
    c.zero_grad(), g.zero_grad();
    const long long labels = 2LL * Bn * T;
    double lc = c.step(tok.data(), lab.data(), Bn, T, true, labels).loss_sum;
    lc += c.step(tok2.data(), lab2.data(), Bn, T, true, labels).loss_sum;
    double lg = g.step(tok.data(), lab.data(), Bn, T, true, labels).loss_sum;
    lg += g.step(tok2.data(), lab2.data(), Bn, T, true, labels).loss_sum;
    INFO("step " << t);
    CHECK(lg == doctest::Approx(lc).epsilon(1e-5));
    const double nc = clip_grad_norm<Cpu>(c.device_grads(), lay.total, 0.3);
    const double ng = clip_grad_norm<Gpu>(g.device_grads(), lay.total, 0.3);
    CHECK(ng == doctest::Approx(nc).epsilon(1e-4));
    g.sync_to_host();
    CHECK(rel_err(std::vector<float>(g.grads().begin(), g.grads().end()),
                  std::vector<float>(c.grads().begin(), c.grads().end())) < 1e-4);
    ac.step(c.device_params(), c.device_grads(), 1e-3f, t);
    ag.step(g.device_params(), g.device_grads(), 1e-3f, t);
  }
  g.sync_to_host();
  const std::vector<float> pg(g.params().begin(), g.params().end()), pc(c.params().begin(), c.params().end());
  CHECK(rel_err(pg, pc) < 1e-5);
  // the evaluation pass (no backward) gives the training forward's loss
  const double ec = c.step(tok.data(), lab.data(), Bn, T, false).loss_sum;
  const double eg = g.step(tok.data(), lab.data(), Bn, T, false).loss_sum;
  CHECK(eg == doctest::Approx(ec).epsilon(1e-5));
  // TF32 GEMMs: 10-bit mantissas, fp32 accumulation
  Engine<Net, Gpu> tf32(Precision::tf32);
  std::copy(pg.begin(), pg.end(), tf32.params().begin());
  tf32.sync_to_device();
  const double tg = tf32.step(tok.data(), lab.data(), Bn, T, false).loss_sum;
  CHECK(tg == doctest::Approx(ec).epsilon(2e-3));
  // checkpoint round trip: the GPU's weights saved and loaded into a fresh engine compute the same
  const std::string path = "test_cuda_roundtrip.safetensors";
  save_params(lay, std::span<const float>(pg), path);
  Engine<Net, Gpu> fresh(Precision::fp32);
  load_params(lay, fresh.params(), path);
  fresh.sync_to_device();
  CHECK(fresh.step(tok.data(), lab.data(), Bn, T, false).loss_sum == eg);
  std::remove(path.c_str());
}

}  // namespace

TEST_CASE("cuda: training steps match the CPU: accumulation, clipping, AdamW, eval, TF32, NaN-filled arenas, checkpoints") {
  using tiny = mixln::examples::tiny;
  check_training<tiny::mixln>("tiny Mix-LN");
  check_training<tiny::hybridnorm>("HybridNorm (skip from the layer input)");
  check_training<mixln::Model<cuda_cases::Cfg, mixln::Stack<b2t::B2T<tiny::Block, LayerNorm>, 2, PreLN<tiny::Block>, 2>>>(
      "B2T (skip connection, LayerNorm)");
}
