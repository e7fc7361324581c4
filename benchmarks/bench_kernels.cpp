// Google Benchmark: CPU kernels at the `small` size (C = 256, I = 688, H = 4, B·T = 8·256)
// and a whole training step (forward + backward) of small_mixln.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "configs.hpp"

using namespace mixln;
using Cpu = cpu::Backend<float>;

namespace {
constexpr int kB = 8, kT = 256, kC = 256, kI = 688, kH = 4, kD = kC / kH, kR = kB * kT;

std::vector<float> random_vec(std::size_t n, float scale = 1.f) {
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

template <BoundaryKind K>
void BM_boundary_forward(benchmark::State& st) {
  auto x = random_vec(kR * kC), f = random_vec(kR * kC), w = random_vec(kC);
  std::vector<float> s(kR * kC), y(kR * kC), h(kR * kC), stats(kR * 3);
  cpu::BoundaryBuffers<float> b{x.data(), f.data(), nullptr, s.data(), y.data(), h.data(),
                                stats.data(), w.data(), w.data(), w.data(), 1.f, 1.f};
  for (auto _ : st) Cpu::boundary_forward<K>(kR, kC, b);
  st.SetBytesProcessed(st.iterations() * kR * kC * 4 * 4);
}
BENCHMARK(BM_boundary_forward<BoundaryKind{.residual = true, .start_norm = true}>)->Name("boundary_fwd/pre_pre");
BENCHMARK(BM_boundary_forward<BoundaryKind{.residual = true, .end_norm = true}>)->Name("boundary_fwd/post_post");
BENCHMARK(BM_boundary_forward<BoundaryKind{.residual = true, .end_norm = true, .start_norm = true}>)->Name("boundary_fwd/post_pre");

void BM_attention_forward(benchmark::State& st) {
  auto qkv = random_vec(kR * 3 * kC);
  std::vector<float> probs(std::size_t(kB) * kH * kT * kT), out(kR * kC);
  for (auto _ : st) Cpu::attention_forward(kB, kT, kH, kD, qkv.data(), probs.data(), out.data());
}
BENCHMARK(BM_attention_forward)->Name("attention_fwd");

void BM_attention_backward(benchmark::State& st) {
  auto qkv = random_vec(kR * 3 * kC), dout = random_vec(kR * kC);
  std::vector<float> probs(std::size_t(kB) * kH * kT * kT), out(kR * kC), dp(probs.size()),
      dqkv(kR * 3 * kC);
  Cpu::attention_forward(kB, kT, kH, kD, qkv.data(), probs.data(), out.data());
  for (auto _ : st)
    Cpu::attention_backward(kB, kT, kH, kD, qkv.data(), probs.data(), dout.data(), dp.data(), dqkv.data());
}
BENCHMARK(BM_attention_backward)->Name("attention_bwd");

void BM_linear_forward(benchmark::State& st) {
  auto x = random_vec(kR * kC), W = random_vec(2 * kI * kC);
  std::vector<float> y(kR * 2 * kI);
  for (auto _ : st) Cpu::linear_forward(kR, 2 * kI, kC, x.data(), W.data(), y.data());
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * kR * 2 * kI * kC * st.iterations(),
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_linear_forward)->Name("linear_fwd/gate_up");

void BM_swiglu(benchmark::State& st) {
  auto gu = random_vec(kR * 2 * kI);
  std::vector<float> act(kR * kI);
  for (auto _ : st) Cpu::swiglu_forward(kR, kI, gu.data(), act.data());
}
BENCHMARK(BM_swiglu)->Name("swiglu_fwd");

void BM_step_small_mixln(benchmark::State& st) {
  using Net = examples::small::mixln;
  Engine<Net, Cpu> e;
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = 1});
  std::vector<std::int32_t> tok(kR), lab(kR);
  for (int i = 0; i < kR; ++i) tok[i] = (i * 7919) % 4096, lab[i] = (i * 104729 + 3) % 4096;
  e.step(tok.data(), lab.data(), kB, kT, true);  // warm-up: plans and touches the arena
  for (auto _ : st) {
    e.zero_grad();
    benchmark::DoNotOptimize(e.step(tok.data(), lab.data(), kB, kT, true));
  }
  st.counters["tok/s"] = benchmark::Counter(double(kR) * st.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_step_small_mixln)->Name("step/small_mixln")->Unit(benchmark::kMillisecond)->MinTime(2.0);
}  // namespace

BENCHMARK_MAIN();
