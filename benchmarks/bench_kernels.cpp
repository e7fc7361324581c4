// Google Benchmark: every CPU kernel forward and backward, at the `small` size (C = 256,
// I = 688, H = 4, V = 4096) and the `llama71m` size (C = 512, I = 1368, H = 8, V = 32000),
// batch 8 × 256 tokens; and a whole training step (forward, backward, Adam) of small_mixln and
// llama71m_mixln. `bf16/` runs the GEMM-bearing ones with --precision bf16; `gemm/` times one
// product of each shape class of the small step by three engines (sgemm, bf16 emulated, bf16
// on oneDNN), and `bf16_convert/` the rounding of a 32 MB array (portable loop, AVX512_BF16).
//
//   build/bin/mixln_bench                         # all
//   build/bin/mixln_bench --benchmark_filter=small
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "configs.hpp"

using namespace mixln;
using Cpu = cpu::Backend<float>;

namespace {

struct Small {
  static constexpr const char* name = "small";
  static constexpr int C = 256, I = 688, H = 4, V = 4096;
};
struct Llama71m {
  static constexpr const char* name = "llama71m";
  static constexpr int C = 512, I = 1368, H = 8, V = 32000;
};
constexpr int kB = 8, kT = 256, kR = kB * kT;

std::vector<float> random_vec(std::size_t n, float scale = 1.f) {
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

template <class... K>
using L = norm_list<K...>;
using kPrePre = BoundarySpec<true, false, false, L<>, L<>, L<RMSNorm>>;
using kPostPost = BoundarySpec<true, false, false, L<>, L<RMSNorm>, L<>>;
using kPostPre = BoundarySpec<true, false, false, L<>, L<RMSNorm>, L<RMSNorm>>;
using kLayerNormPre = BoundarySpec<true, false, false, L<>, L<>, L<LayerNorm>>;
using kDyTPre = BoundarySpec<true, false, false, L<>, L<>, L<DyT<>>>;
using kPeri = BoundarySpec<true, false, false, L<RMSNorm>, L<>, L<RMSNorm>>;

template <class S, class Spec>
void BM_boundary(benchmark::State& st, bool backward) {
  constexpr int n = S::C, P = Spec::num_params;
  auto x = random_vec(kR * n), f = random_vec(kR * n), w = random_vec(std::size_t(P) * n), dy = random_vec(kR * n),
       dh = random_vec(kR * n);
  std::vector<float> y(kR * n), h(kR * n), stats(std::size_t(kR) * std::max(Spec::num_stats, 1)), df(kR * n),
      dw(std::size_t(P) * n), part(std::size_t(row_chunks(kR)) * (P + 1) * n);
  std::vector<std::vector<float>> bufs(std::size_t(Spec::num_norms), std::vector<float>(kR * n));
  BoundaryArgs<Spec, float> b;
  b.x = x.data(), b.f = f.data(), b.y = y.data(), b.h = h.data(), b.stats = stats.data();
  for (int i = 0; i < Spec::num_norms; ++i) b.in[i] = bufs[std::size_t(i)].data();
  if (Spec::nb > 0) b.in[0] = f.data();
  if (Spec::ns > 0) b.in[Spec::first_start] = y.data();
  BoundaryGradArgs<Spec, float> g;
  g.dy_ext = g.dx = dy.data(), g.dh = dh.data(), g.df = df.data(), g.partials = part.data();
  for (int p = 0; p < P; ++p) b.w[p] = w.data() + std::size_t(p) * n, g.dw[p] = dw.data() + std::size_t(p) * n;
  Cpu::boundary_forward<Spec>(kR, n, b);
  for (auto _ : st) {
    if (backward) Cpu::boundary_backward<Spec>(kR, n, b, g);
    else Cpu::boundary_forward<Spec>(kR, n, b);
  }
  st.SetBytesProcessed(st.iterations() * kR * n * 4 * (backward ? 6 : 4));
}

template <class S>
void BM_attention(benchmark::State& st, bool backward, Precision p) {
  constexpr int C = S::C, H = S::H, D = C / H;
  auto qkv = random_vec(kR * 3 * C), dout = random_vec(kR * C);
  std::vector<float> stats(std::size_t(kB) * H * kT * 2), out(kR * C), delta(std::size_t(kB) * H * kT), dqkv(kR * 3 * C);
  Cpu::attention_forward(p, AttentionMask::causal, kB, kT, H, D, qkv.data(), stats.data(), out.data());
  for (auto _ : st) {
    if (backward)
      Cpu::attention_backward(p, AttentionMask::causal, kB, kT, H, D, qkv.data(), out.data(), stats.data(), dout.data(), delta.data(), dqkv.data());
    else
      Cpu::attention_forward(p, AttentionMask::causal, kB, kT, H, D, qkv.data(), stats.data(), out.data());
  }
}

template <class S>
void BM_rope(benchmark::State& st, bool backward) {
  constexpr int C = S::C, H = S::H, D = C / H;
  auto qkv = random_vec(kR * 3 * C);
  std::vector<float> cs(kT * D / 2), sn(kT * D / 2);
  Cpu::rope_tables(kT, D, cs.data(), sn.data());
  for (auto _ : st) {
    if (backward) Cpu::rope(true, kB, kT, H, D, qkv.data(), cs.data(), sn.data());
    else Cpu::rope(false, kB, kT, H, D, qkv.data(), cs.data(), sn.data());
  }
}

// The four GEMMs of a layer and the head, forward (x·Wᵀ) or backward (dx and dW).
template <class S>
void BM_linears(benchmark::State& st, bool backward, Precision p) {
  constexpr int C = S::C, I = S::I, V = S::V;
  const int shapes[5][2] = {{3 * C, C}, {C, C}, {2 * I, C}, {C, I}, {V, C}};  // [out, in]
  std::vector<std::vector<float>> W, x, y, dx, dW;
  for (auto& s : shapes) {
    W.push_back(random_vec(std::size_t(s[0]) * s[1], 0.02f));
    x.push_back(random_vec(std::size_t(kR) * s[1]));
    y.push_back(random_vec(std::size_t(kR) * s[0]));
    dx.emplace_back(std::size_t(kR) * s[1]);
    dW.emplace_back(std::size_t(s[0]) * s[1]);
  }
  double flops = 0;
  for (auto& s : shapes) flops += 2.0 * kR * s[0] * s[1] * (backward ? 2 : 1);
  for (auto _ : st)
    for (int i = 0; i < 5; ++i) {
      if (backward)
        Cpu::linear_backward(p, kR, shapes[i][0], shapes[i][1], y[i].data(), x[i].data(), W[i].data(), dx[i].data(),
                             dW[i].data());
      else
        Cpu::linear_forward(p, kR, shapes[i][0], shapes[i][1], x[i].data(), W[i].data(), y[i].data());
    }
  st.counters["GFLOP/s"] =
      benchmark::Counter(flops * double(st.iterations()), benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

template <class S>
void BM_swiglu(benchmark::State& st, bool backward) {
  constexpr int I = S::I;
  auto gu = random_vec(kR * 2 * I), dact = random_vec(kR * I);
  std::vector<float> act(kR * I), dgu(kR * 2 * I);
  for (auto _ : st) {
    if (backward) Cpu::swiglu_backward(kR, I, gu.data(), dact.data(), dgu.data());
    else Cpu::swiglu_forward(kR, I, gu.data(), act.data());
  }
}

// Forward: the loss alone; backward: the fused loss + gradient in place.
template <class S>
void BM_cross_entropy(benchmark::State& st, bool backward) {
  constexpr int V = S::V;
  auto z = random_vec(std::size_t(kR) * V);
  std::vector<std::int32_t> lab(kR);
  for (int i = 0; i < kR; ++i) lab[i] = (i * 7919) % V;
  std::vector<float> work = z, rl(kR);
  for (auto _ : st) {
    if (backward) {
      st.PauseTiming();
      work = z;
      st.ResumeTiming();
    }
    double sum = 0;
    Cpu::cross_entropy(kR, V, work.data(), lab.data(), kR, backward, work.data(), rl.data(), &sum);
    benchmark::DoNotOptimize(sum);
  }
}

template <class S>
void BM_embedding(benchmark::State& st, bool backward) {
  constexpr int C = S::C, V = S::V;
  auto table = random_vec(std::size_t(V) * C), dout = random_vec(kR * C);
  std::vector<float> out(kR * C), dt(std::size_t(V) * C);
  std::vector<std::int32_t> tok(kR);
  for (int i = 0; i < kR; ++i) tok[i] = (i * 7919) % V;
  for (auto _ : st) {
    if (backward) Cpu::embedding_backward(kR, C, tok.data(), dout.data(), dt.data());
    else Cpu::embedding_forward(kR, C, tok.data(), table.data(), out.data());
  }
}

template <class Net>
void BM_step(benchmark::State& st, Precision p) {
  Engine<Net, Cpu> e(p);
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = 1});
  AdamW<Cpu> adam(e.layout(), {});
  const int V = int(Net::config::vocab_size);
  std::vector<std::int32_t> tok(kR), lab(kR);
  for (int i = 0; i < kR; ++i) tok[i] = (i * 7919) % V, lab[i] = (i * 104729 + 3) % V;
  e.step(tok.data(), lab.data(), kB, kT, true);  // warm-up: plans and touches the arena
  long long t = 1;
  for (auto _ : st) {
    e.zero_grad();
    benchmark::DoNotOptimize(e.step(tok.data(), lab.data(), kB, kT, true).loss_sum);
    adam.step(e.device_params(), e.device_grads(), 1e-4f, ++t);
  }
  st.counters["tok/s"] = benchmark::Counter(double(kR) * double(st.iterations()), benchmark::Counter::kIsRate);
}

// One product C[M, N] = op(A)·op(B) of the small step by one engine: 0 sgemm, 1 bf16 emulated,
// 2 bf16 on oneDNN (skipped where the CPU or the build lacks it).
void BM_gemm(benchmark::State& st, bool ta, bool tb, int M, int N, int K, int engine) {
  if (engine == 2 && !cpu::bf16_gemm_native()) {
    st.SkipWithError(("no native bf16: " + cpu::bf16_gemm_description()).c_str());
    return;
  }
  auto A = random_vec(std::size_t(M) * K), B = random_vec(std::size_t(K) * N);
  std::vector<float> C(std::size_t(M) * N);
  const int lda = ta ? M : K, ldb = tb ? K : N;
  for (auto _ : st) {
    if (engine == 0)
      cpu::gemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
    else if (engine == 1)
      cpu::gemm_bf16_emulated(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
    else
      cpu::gemm_bf16(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N);
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K * double(st.iterations()), benchmark::Counter::kIsRate,
                                              benchmark::Counter::kIs1000);
}

void BM_bf16_convert(benchmark::State& st, bool vector) {
  if (vector && !cpu::cpu_has_avx512_bf16()) {
    st.SkipWithError("no AVX512_BF16 on this CPU");
    return;
  }
  const int n = 8 << 20;  // 32 MB of fp32, the LM head's [rows, vocab] gradient at small's size
  auto x = random_vec(std::size_t(n));
  std::vector<std::uint16_t> o(static_cast<std::size_t>(n));
  for (auto _ : st) {
    if (vector)
      cpu::round_row_to_bf16(n, x.data(), o.data());
    else
      for (int i = 0; i < n; ++i) o[std::size_t(i)] = float_to_bf16(x[std::size_t(i)]);
    benchmark::DoNotOptimize(o.data());
  }
  st.SetItemsProcessed(st.iterations() * n);
}

void register_bf16() {
  struct Shape {
    const char* name;
    bool ta, tb;
    int M, N, K;
  };
  constexpr int C = Small::C, I = Small::I, V = Small::V, T = kT, D = C / Small::H;
  const Shape shapes[] = {{"qkv_fwd", false, true, kR, 3 * C, C},  {"gate_up_fwd", false, true, kR, 2 * I, C},
                          {"down_fwd", false, true, kR, C, I},     {"head_fwd", false, true, kR, V, C},
                          {"head_dx", false, false, kR, C, V},     {"head_dW", true, false, V, C, kR},
                          {"down_dW", true, false, C, I, kR},      {"attn_scores", false, true, 64, T, D},
                          {"attn_values", false, false, 64, D, T}, {"attn_dK", true, false, T, D, 64}};
  const char* engines[] = {"sgemm", "bf16_emulated", "bf16_onednn"};
  for (const Shape& s : shapes)
    for (int e = 0; e < 3; ++e)
      benchmark::RegisterBenchmark((std::string("gemm/") + s.name + "/" + engines[e]).c_str(), BM_gemm, s.ta, s.tb,
                                   s.M, s.N, s.K, e);
  benchmark::RegisterBenchmark("bf16_convert/portable", BM_bf16_convert, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("bf16_convert/avx512_bf16", BM_bf16_convert, true)->Unit(benchmark::kMillisecond);
  for (bool bwd : {false, true}) {
    const std::string dir = bwd ? "_bwd" : "_fwd";
    benchmark::RegisterBenchmark(("bf16/small/attention" + dir).c_str(), BM_attention<Small>, bwd, Precision::bf16)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("bf16/small/linears" + dir).c_str(), BM_linears<Small>, bwd, Precision::bf16)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RegisterBenchmark("bf16/small/step_mixln", BM_step<examples::small::mixln>, Precision::bf16)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);
}

template <class S>
void register_size() {
  const std::string p = std::string(S::name) + "/";
  for (bool bwd : {false, true}) {
    const std::string dir = bwd ? "_bwd" : "_fwd";
    benchmark::RegisterBenchmark((p + "boundary_pre_pre" + dir).c_str(), BM_boundary<S, kPrePre>, bwd);
    benchmark::RegisterBenchmark((p + "boundary_post_post" + dir).c_str(), BM_boundary<S, kPostPost>, bwd);
    benchmark::RegisterBenchmark((p + "boundary_post_pre" + dir).c_str(), BM_boundary<S, kPostPre>, bwd);
    benchmark::RegisterBenchmark((p + "boundary_peri" + dir).c_str(), BM_boundary<S, kPeri>, bwd);
    benchmark::RegisterBenchmark((p + "boundary_layernorm_pre" + dir).c_str(), BM_boundary<S, kLayerNormPre>, bwd);
    benchmark::RegisterBenchmark((p + "boundary_dyt_pre" + dir).c_str(), BM_boundary<S, kDyTPre>, bwd);
    benchmark::RegisterBenchmark((p + "attention" + dir).c_str(), BM_attention<S>, bwd, Precision::fp32)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "rope" + dir).c_str(), BM_rope<S>, bwd);
    benchmark::RegisterBenchmark((p + "linears" + dir).c_str(), BM_linears<S>, bwd, Precision::fp32)->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "swiglu" + dir).c_str(), BM_swiglu<S>, bwd);
    benchmark::RegisterBenchmark((p + "cross_entropy" + dir).c_str(), BM_cross_entropy<S>, bwd)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((p + "embedding" + dir).c_str(), BM_embedding<S>, bwd);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_size<Small>();
  register_size<Llama71m>();
  benchmark::RegisterBenchmark("small/step_mixln", BM_step<examples::small::mixln>, Precision::fp32)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(2.0);
  benchmark::RegisterBenchmark("llama71m/step_mixln", BM_step<examples::llama71m::mixln>, Precision::fp32)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(5.0);
  register_bf16();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
