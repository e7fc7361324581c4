// mixln/cli/cmd_bench.hpp — `bench`: the speed of a training step on synthetic tokens.
//
// A step is the trainer's (train/trainer.hpp): one micro-step (forward, backward), the gradient
// norm (sum_squares; no clipping), AdamW, and one read of the loss and norm. N timed steps after
// warm-up steps (the first micro-steps of a shape run eagerly, then, on CUDA, as a captured
// graph); one JSON line:
//   tok_s, step_s          from the median step
//   flops_per_token        6·N + 6·L·C·T (N: parameters of the linears and lm_head; the second
//                          term counts causal attention, forward and backward); gflops achieved
//   phases                 ms per step of each phase (embedding, attention, mlp, boundary,
//                          head_loss; .fwd and .bwd; optimizer), summed over layers, from one
//                          more step run eagerly with a mark (a CUDA event on the GPU) before each
//                          phase; phases_per_layer: [forward ms, backward ms] of each layer
//   launches_per_step      CUDA: work issued in that step (kernels, cuBLAS and CUB calls, memsets,
//                          copies; cuda/backend.hpp launch_count); graph_nodes_per_micro_step: the
//                          nodes (and kernels) of the captured micro-step
//   cuda_graph             on (replayed), off, or why a capture failed
//   peak memory            peak_rss_bytes (host); CUDA: peak_device_bytes (mixln's allocations)
//   ceilings               sgemm_gflops (a 1024³ GEMM through the backend); CUDA: an 8192³ bf16
//                          GEMM (ceiling_gemm_tflops) and a 1 GiB device copy (ceiling_copy_gbs)
//   MFU                    CUDA: against the GPU's nominal bf16 peak (mfu_nominal) and against
//                          the measured GEMM ceiling (mfu_measured)
//   planned_bytes          parameters + gradients + Adam moments + planned activations
#pragma once

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// Marks on the host clock, for a backend whose ops finish before they return (the CPU).
class HostTimer {
 public:
  void mark() { marks_.push_back(std::chrono::steady_clock::now()); }
  std::vector<double> intervals_ms() {
    std::vector<double> out;
    for (std::size_t i = 1; i < marks_.size(); ++i)
      out.push_back(std::chrono::duration<double, std::milli>(marks_[i] - marks_[i - 1]).count());
    marks_.clear();
    return out;
  }

 private:
  std::vector<std::chrono::steady_clock::time_point> marks_;
};

template <class Backend>
struct bench_timer {
  using type = HostTimer;
};
template <class Backend>
  requires requires { typename Backend::Timer; }
struct bench_timer<Backend> {
  using type = typename Backend::Timer;
};

template <class Net, class Backend>
int run_bench(const Args& a) {
  using Cfg = typename Net::config;
  constexpr int L = Net::num_layers;
  const int B = a.int32("batch", 8, 1), T = a.int32("seq", 256, 1);
  const int steps = a.int32("steps", 10, 1), warmup = a.int32("warmup", 2, 0);
  const std::uint64_t seed = a.seed("seed");
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  init_params(e.layout(), L, e.params(), {.seed = seed});
  e.sync_to_device();
  AdamW<Backend> adam(e.layout(), {});
  Rng rng(seed + 1);
  std::vector<std::int32_t> tok(std::size_t(B) * T), lab(tok.size());
  for (std::size_t i = 0; i < tok.size(); ++i)
    tok[i] = std::int32_t(rng.below(Cfg::vocab_size)), lab[i] = std::int32_t(rng.below(Cfg::vocab_size));

  typename bench_timer<Backend>::type timer;
  long long t = 0;
  double loss = 0;
  // One step as the trainer takes it; `mark` before the optimizer (for the phase timings).
  auto step = [&](bool mark) {
    e.zero_grad();
    e.reset_loss();
    e.micro_step(tok.data(), lab.data(), B, T, true);
    if (mark) timer.mark();
    clip_grad_norm<Backend>(e.device_grads(), e.layout().total, 0.0, e.step_scalars() + 1);
    adam.step(e.device_params(), e.device_grads(), 1e-4f, ++t, e.step_scalars());
    if (mark) timer.mark();
    loss = e.read_step_scalars().first / double(B * T);
  };

  std::vector<double> times;
  for (int s = 0; s < warmup + steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    step(false);
    if (s >= warmup) times.push_back(seconds_since(t0));
  }
  std::sort(times.begin(), times.end());
  const double step_s = times[times.size() / 2];

  // One more step, eagerly, with a mark before each phase.
  std::vector<std::pair<std::string, int>> phases;  // "attention.fwd", layer
  e.set_phase_hook([&](const char* what, int layer, bool backward) {
    phases.push_back({std::string(what) + (backward ? ".bwd" : ".fwd"), layer});
    timer.mark();
  });
  long long launches = -1;
  if constexpr (requires { Backend::launch_count(); }) launches = Backend::launch_count();
  step(true);
  if constexpr (requires { Backend::launch_count(); }) launches = Backend::launch_count() - launches;
  e.set_phase_hook(nullptr);
  phases.push_back({"optimizer", -1});
  const std::vector<double> ms = timer.intervals_ms();
  nlohmann::json phase_ms = nlohmann::json::object();
  std::vector<std::array<double, 2>> per_layer(L, {0.0, 0.0});
  for (std::size_t i = 0; i < phases.size() && i < ms.size(); ++i) {
    const auto& [name, layer] = phases[i];
    phase_ms[name] = phase_ms.value(name, 0.0) + ms[i];
    if (layer >= 0) per_layer[std::size_t(layer)][name.ends_with(".bwd") ? 1 : 0] += ms[i];
  }

  std::size_t n_mm = 0;
  for (auto& p : e.layout().params)
    if (p.kind == ParamKind::linear || p.kind == ParamKind::head) n_mm += p.count;
  const double flops_per_token = 6.0 * double(n_mm) + 6.0 * L * double(Cfg::hidden_size) * double(T);
  const double tok_s = double(B) * T / step_s;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double planned = 4.0 * double(e.layout().total) * sizeof(typename Backend::scalar) +
                         double(e.activation_plan().bytes());
  const auto& g = e.graphs();
  nlohmann::json j = {{"backend", Backend::name},
                      {"blas", Backend::describe(e.precision())},
                      {"precision", precision_name(e.precision())},
                      {"threads", omp_get_max_threads()},
                      {"batch", B},
                      {"seq", T},
                      {"steps", steps},
                      {"tok_s", tok_s},
                      {"step_s", step_s},
                      {"flops_per_token", flops_per_token},
                      {"gflops", flops_per_token * tok_s / 1e9},
                      {"sgemm_gflops", sgemm_gflops<Backend>(e.precision())},
                      {"peak_rss_bytes", (long long)ru.ru_maxrss * 1024},
                      {"planned_bytes", planned},
                      {"loss", loss},
                      {"phases", phase_ms},
                      {"phases_per_layer", per_layer},
                      {"cuda_graph", !g.failure().empty() ? "failed: " + g.failure()
                                     : g.counts().replays > 0 ? std::string("on")
                                                              : std::string("off")},
                      {"graph_replays", g.counts().replays},
                      {"launches_per_step", launches >= 0 ? nlohmann::json(launches) : nlohmann::json()}};
  if constexpr (requires { Backend::measure_ceilings(); }) {  // a GPU
    const auto nodes = Backend::last_graph_nodes();
    const auto ceilings = Backend::measure_ceilings();
    const double achieved = flops_per_token * tok_s, nominal = Backend::nominal_bf16_flops();
    j["graph_nodes_per_micro_step"] = {{"total", nodes.total}, {"kernels", nodes.kernels}};
    j["peak_device_bytes"] = Backend::memory_stats().peak;
    j["ceiling_gemm_tflops"] = ceilings.gemm_tflops;
    j["ceiling_copy_gbs"] = ceilings.copy_gbs;
    j["nominal_peak_flops"] = nominal;
    j["mfu_nominal"] = nominal > 0 ? nlohmann::json(achieved / nominal) : nlohmann::json();
    j["mfu_measured"] = achieved / (ceilings.gemm_tflops * 1e12);
  }
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

}  // namespace mixln::cli
