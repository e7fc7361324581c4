// mixln/cli/cmd_info.hpp — `info`: the layer plan, the parameter count, the memory plan.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "../schedule/plan.hpp"
#include "../schedule/traffic.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "backend_cli.hpp"

namespace mixln::cli {

inline std::vector<Option> info_options() {
  return {{"batch", true, "B: sequences per batch for the memory plan (8)"},
          {"seq", true, "T: tokens per sequence for the memory plan (256)"},
          {"slots", false, "list every activation slot of the plan"},
          {"device", true, "cpu or cuda: whose memory plan to print (this trainer's backend)"},
          {"ranks", true, "N: data-parallel ranks, for the memory of one rank (1)"},
          {"zero", true, "0 or 1: with 1 the Adam moments are sharded over the ranks (train --zero 1) (0)"}};
}

inline std::string with_commas(std::size_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(std::size_t(i), ",");
  return s;
}

// 70.6M, 1.34B
inline std::string short_count(std::size_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.2fB", double(n) / 1e9);
  else if (n >= 1000000) std::snprintf(buf, sizeof buf, "%.1fM", double(n) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1fK", double(n) / 1e3);
  return buf;
}

inline std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}
inline std::string pad(std::string s, std::size_t w) {
  if (s.size() < w) s.append(w - s.size(), ' ');
  return s;
}

// "PostLN×2, PreLN×6"
template <class Net>
std::string stack_summary() {
  std::string out;
  const auto& names = Net::placement_names;
  for (std::size_t i = 0; i < names.size();) {
    std::size_t j = i;
    while (j < names.size() && std::string(names[j]) == names[i]) ++j;
    out += (out.empty() ? "" : ", ") + std::string(names[i]) + " x" + std::to_string(j - i);
    i = j;
  }
  return out;
}

// Bytes of bf16 copies of the largest GEMM operands of a step of R rows (the CUDA backend's
// staging in bf16 mode: the [R, V] logits gradient and the largest B operand).
inline std::size_t bf16_staging_bytes(std::size_t R, std::size_t C, std::size_t I, std::size_t V, std::size_t H,
                                      std::size_t T) {
  (void)H, (void)T;  // the fused attention rounds its operands itself: no [H, T, T] staging
  const std::size_t a = std::max({R * V, R * 2 * I, R * 3 * C});
  const std::size_t b = std::max({V * C, 2 * I * C, R * 3 * C, R * C});
  return 2 * (a + b);
}

// The fused op of every boundary of a model, as text (for printing).
template <class Net>
std::vector<std::string> boundary_descriptions() {
  using S = Schedule<Net>;
  std::vector<std::string> out;
  S::for_each_boundary([&]<int k>() { out.push_back(describe_boundary<typename S::template boundary<k>>()); });
  return out;
}

// The model's dimensions, its stack, and per layer its placement, block and the fused op at
// each boundary.
template <class Net>
void print_layer_plan() {
  using Cfg = typename Net::config;
  using S = Schedule<Net>;
  std::printf("model: %d layers, vocab %zu, hidden %zu, intermediate %zu, heads %zu (head dim %zu)\n",
              Net::num_layers, Cfg::vocab_size, Cfg::hidden_size, Cfg::intermediate_size,
              Cfg::num_heads, Cfg::head_dim);
  std::printf("stack: %s\n\n", stack_summary<Net>().c_str());
  const auto boundaries = boundary_descriptions<Net>();
  std::vector<std::vector<std::string>> branches(Net::num_layers);  // branch names of each layer
  S::for_each_sublayer([&]<int k>() { branches[S::template layer<k>].push_back(S::template branch<k>::name); });
  std::printf("layer plan (the fused op at the boundary before each branch: %s):\n",
              join(branches[0], ", ").c_str());
  std::printf("  %5s  %-12s  %-26s  %s\n", "layer", "placement", "block", "boundaries");
  for (int l = 0; l < Net::num_layers; ++l) {
    std::string row;
    for (int b = 0; b < int(branches[l].size()); ++b) {
      std::string d = boundaries[std::size_t(S::first_sublayer[l] + b)];
      if (branches[l] != branches[0]) d = branches[l][b] + ": " + d;
      row += (b ? "  " : "") + pad(d, 30);
    }
    while (!row.empty() && row.back() == ' ') row.pop_back();
    std::printf("  %5d  %-12s  %-26s  %s\n", l, Net::placement_names[l], Net::block_names[l], row.c_str());
  }
  std::printf("  final  %-12s  %-26s  %s\n\n", "model.norm", Net::final_norm::name, boundaries.back().c_str());
}

template <class Net>
void print_parameters(const ParamLayout& layout) {
  // every parameter in one part: the layers, the embedding, the norms on its output (boundary 0),
  // the final norm, the head; the parts add up to the total
  std::size_t in_layers = 0, embedding = 0, embedding_out = 0, final_norm = 0, head = 0;
  for (auto& p : layout.params) {
    if (p.layer >= 0) in_layers += p.count;
    else if (p.name == "model.embed_tokens.weight") embedding += p.count;
    else if (p.name == "lm_head.weight") head += p.count;
    else if (p.name.starts_with("model.norm.")) final_norm += p.count;
    else embedding_out += p.count;
  }
  std::printf("parameters: %s = %s (%s in layers, %s embedding, %s%s lm_head, %zu final norm)\n\n",
              with_commas(layout.total).c_str(), short_count(layout.total).c_str(), with_commas(in_layers).c_str(),
              with_commas(embedding).c_str(),
              embedding_out ? (with_commas(embedding_out) + " on the embedding's output, ").c_str() : "",
              with_commas(head).c_str(), final_norm);
}

// `info --slots`: every activation slot of the arena.
inline void print_slots(const ActivationPlan& plan, int B, int T) {
  std::printf("activation slots for batch %d x seq %d:\n", B, T);
  for (auto& s : plan.slots)
    std::printf("  %-28s %-22s %-6s %10s%s\n", s.name.c_str(), format_shape(s.shape).c_str(),
                s.type == SlotType::bf16 ? "bf16" : plan.scalar_bytes == 8 ? "fp64" : "fp32",
                format_bytes(double(s.bytes())).c_str(), s.backward ? "  (backward)" : "");
  std::printf("\n");
}

// The memory a training step needs on `device` (--device, --ranks, --zero, --precision).
template <class Net, class Backend>
void print_memory_plan(const Args& a, const ParamLayout& layout, const ActivationPlan& plan, int B, int T,
                       const std::string& device) {
  using Cfg = typename Net::config;
  const bool on_device = device == "cuda";
  const int ranks = a.int32("ranks", 1, 1);
  const int zero = a.int32("zero", 0, 0, 1);
  const double pbytes = double(layout.total) * sizeof(float);
  // ZeRO-1: each rank keeps the moments of its slice (the largest slice: ⌈total / ranks⌉)
  const double moments = 2.0 * sizeof(float) * double(zero ? (layout.total + std::size_t(ranks) - 1) / std::size_t(ranks)
                                                             : layout.total);
  const double fwd = double(plan.forward_bytes()), all = double(plan.bytes());
  std::size_t bf16_slots = 0;
  for (auto& s : plan.slots) bf16_slots += s.type == SlotType::bf16;
  const std::string types = bf16_slots ? "fp32 and " + std::to_string(bf16_slots) + " bf16 slots" : "fp32";
  std::printf("memory plan for batch %d x seq %d on %s (%s, one arena of %zu slots)%s:\n", B, T, device.c_str(),
              types.c_str(), plan.slots.size(),
              ranks > 1 ? (", per rank of " + std::to_string(ranks) + (zero ? ", ZeRO-1" : "")).c_str() : "");
  std::printf("  %-34s %12s\n", "parameters", format_bytes(pbytes).c_str());
  std::printf("  %-34s %12s\n", "gradients", format_bytes(pbytes).c_str());
  std::printf("  %-34s %12s\n", zero && ranks > 1 ? "Adam moments (this rank's slice)" : "Adam moments (training)",
              format_bytes(moments).c_str());
  std::printf("  %-34s %12s\n", "activations kept for backward", format_bytes(fwd).c_str());
  std::printf("  %-34s %12s\n", "backward scratch", format_bytes(all - fwd).c_str());
  // The CUDA backend stages GEMM inputs in bf16 (its default precision); the CPU backend keeps
  // rounded copies of them with --precision bf16.
  const std::size_t R = std::size_t(B) * T;
  const double extra =
      device == Backend::name
          ? double(BackendCli<Backend>::scratch_bytes(precision_arg<Backend>(a), R, Cfg::hidden_size, Cfg::intermediate_size, Cfg::vocab_size,
                                                       Cfg::num_heads, std::size_t(T)))
          : on_device ? double(bf16_staging_bytes(R, Cfg::hidden_size, Cfg::intermediate_size, Cfg::vocab_size,
                                                  Cfg::num_heads, std::size_t(T)))
                      : 0.0;
  if (extra > 0) std::printf("  %-34s %12s\n", "bf16 staging of GEMM inputs", format_bytes(extra).c_str());
  std::printf("  %-34s %12s%s\n", "total", format_bytes(2 * pbytes + moments + all + extra).c_str(),
              on_device ? "  (peak device memory)" : "");
}

// The activations kept for backward in each precision's plan, side by side (the rows that differ
// are the bf16 slots: act_ptr.hpp).
inline void print_precision_plans(const ActivationPlan& fp32, const ActivationPlan& bf16) {
  const double f = double(fp32.forward_bytes()), b = double(bf16.forward_bytes());
  std::printf("\nactivations kept for backward, by --precision: fp32 %s, bf16 %s (%.2fx)\n", format_bytes(f).c_str(),
              format_bytes(b).c_str(), f > 0 ? b / f : 1.0);
}

// The model of schedule/traffic.hpp: bytes a micro-step moves outside the GEMMs, by kernel class.
inline void print_traffic(const Traffic& t, Precision p, const std::string& device) {
  std::printf("\nbytes moved outside the GEMMs by one micro-step with backward and the optimizer step (%s, %s;\n"
              "a model: each op's tensors read and written once, and the bf16 copies of GEMM inputs):\n",
              device.c_str(), precision_name(p));
  for (auto& [cls, b] : t.bytes) std::printf("  %-34s %12s\n", cls.c_str(), format_bytes(b).c_str());
  std::printf("  %-34s %12s\n", "total", format_bytes(t.total()).c_str());
}

// Whether `device`'s backend stores GEMM-operand activations in bf16 under --precision bf16.
template <class Backend>
bool device_stores_bf16(const std::string& device) {
  if (device == Backend::name) return backend_stores_bf16<Backend>;
  return device == "cpu" && backend_stores_bf16<cpu::Backend<float>>;
}

template <class Net, class Backend>
int run_info(const Args& a) {
  const int B = a.int32("batch", 8, 1), T = a.int32("seq", 256, 1);
  print_layer_plan<Net>();
  const ParamLayout layout = make_param_layout<Net>();
  print_parameters<Net>(layout);
  const std::string device = a.str("device", Backend::name);
  if (device != "cpu" && device != "cuda") throw Error("--device: '" + device + "' is neither cpu nor cuda");
  const Precision precision = precision_arg<Backend>(a);
  const bool bf16_slots = device_stores_bf16<Backend>(device);
  auto plan_in = [&](Precision p) {
    return plan_activations<Net>(B, T, ArenaTypes{sizeof(float), p == Precision::bf16 && bf16_slots});
  };
  const ActivationPlan plan = plan_in(precision);
  if (a.flag("slots")) print_slots(plan, B, T);
  print_memory_plan<Net, Backend>(a, layout, plan, B, T, device);
  print_precision_plans(plan_in(Precision::fp32), plan_in(Precision::bf16));
  print_traffic(non_gemm_traffic<Net>(B, T, precision, device == "cuda" ? TrafficDevice::cuda : TrafficDevice::cpu,
                                      bf16_slots),
                precision, device);
  return 0;
}

}  // namespace mixln::cli
