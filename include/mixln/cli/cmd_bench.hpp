// mixln/cli/cmd_bench.hpp — `bench`: the speed of a training step on synthetic tokens.
//
// N timed steps (forward, backward, Adam update) after warm-up steps; prints one JSON line:
// tok_s and step_s from the median step, flops_per_token = 6·N + 6·L·C·T (N: parameters of
// the linears and lm_head; the second term counts causal attention, forward and backward),
// gflops achieved, sgemm_gflops of a 1024³ product through the same backend (the hardware
// yardstick), peak_rss_bytes, and planned_bytes = parameters + gradients + Adam moments +
// planned activations.
#pragma once

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "../rng.hpp"
#include "../train/optimizer.hpp"
#include "args.hpp"
#include "backend_cli.hpp"
#include "engine_select.hpp"
#include "model_source.hpp"

namespace mixln::cli {

inline std::vector<Option> bench_options() {
  return {{"batch", true, "B: sequences per step (8)"},
          {"seq", true, "T: tokens per sequence (256)"},
          {"steps", true, "N: timed steps (10)"},
          {"warmup", true, "untimed steps first (2)"},
          {"seed", true, "S: init and synthetic tokens (0)"}};
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of a 1024³ GEMM through the backend (median of 5 after a warm-up).
template <class Backend>
double sgemm_gflops(Precision p) {
  using T = typename Backend::scalar;
  constexpr int n = 1024;
  std::vector<T> host(std::size_t(n) * n, T(0.5));
  typename Backend::template buffer<T> a, b, c;
  a.resize(host.size()), b.resize(host.size()), c.resize(host.size());
  Backend::copy_to_device(a.data(), host.data(), host.size());
  Backend::copy_to_device(b.data(), host.data(), host.size());
  std::vector<double> t;
  for (int i = 0; i < 6; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Backend::linear_forward(p, n, n, n, a.data(), b.data(), c.data());
    Backend::synchronize();
    if (i) t.push_back(seconds_since(t0));
  }
  std::sort(t.begin(), t.end());
  return 2.0 * n * n * n / t[t.size() / 2] / 1e9;
}

template <class Net, class Backend>
int run_bench(const Args& a) {
  using Cfg = typename Net::config;
  const int B = a.int32("batch", 8, 1), T = a.int32("seq", 256, 1);
  const int steps = a.int32("steps", 10, 1), warmup = a.int32("warmup", 2, 0);
  const std::uint64_t seed = a.seed("seed");
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = seed});
  e.sync_to_device();
  AdamW<Backend> adam(e.layout(), {});
  Rng rng(seed + 1);
  std::vector<std::int32_t> tok(std::size_t(B) * T), lab(tok.size());
  for (std::size_t i = 0; i < tok.size(); ++i)
    tok[i] = std::int32_t(rng.below(Cfg::vocab_size)), lab[i] = std::int32_t(rng.below(Cfg::vocab_size));
  std::vector<double> times;
  double loss = 0;
  for (int s = 0; s < warmup + steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    e.zero_grad();
    loss = e.step(tok.data(), lab.data(), B, T, true).mean();
    adam.step(e.device_params(), e.device_grads(), 1e-4f, s + 1);
    Backend::synchronize();
    if (s >= warmup) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  const double step_s = times[times.size() / 2];
  std::size_t n_mm = 0;
  for (auto& p : e.layout().params)
    if (p.kind == ParamKind::linear || p.kind == ParamKind::head) n_mm += p.count;
  const double flops_per_token =
      6.0 * double(n_mm) + 6.0 * Net::num_layers * double(Cfg::hidden_size) * double(T);
  const double tok_s = double(B) * T / step_s;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double planned = 4.0 * double(e.layout().total) * sizeof(typename Backend::scalar) +
                         double(e.activation_plan().bytes());
  const double sgemm = sgemm_gflops<Backend>(e.precision());
  std::printf(
      "{\"backend\": \"%s\", \"blas\": \"%s\", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d, \"seq\": %d, \"steps\": %d, \"tok_s\": %.1f, \"step_s\": %.5f, "
      "\"flops_per_token\": %.0f, \"gflops\": %.1f, \"sgemm_gflops\": %.1f, \"peak_rss_bytes\": %lld, "
      "\"planned_bytes\": %.0f, \"loss\": %.5f}\n",
      Backend::name, Backend::describe(e.precision()).c_str(), precision_name(e.precision()), omp_get_max_threads(), B, T, steps, tok_s, step_s, flops_per_token, flops_per_token * tok_s / 1e9, sgemm,
      (long long)ru.ru_maxrss * 1024, planned, loss);
  return 0;
}

}  // namespace mixln::cli
