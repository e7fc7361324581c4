// mixln/cli/cmd_analysis.hpp — `angular`, `layer-drop` and `residual-rms`: the paper's
// layer-effectiveness measurements and the size of the residual stream, on a batch file or on a
// token budget of the validation split.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../analysis/angular.hpp"
#include "../analysis/residual_rms.hpp"
#include "../data/loader.hpp"
#include "../io/atomic_file.hpp"
#include "../io/model_io.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_source.hpp"

namespace mixln::cli {

inline std::vector<Option> analysis_options(const char* out_help) {
  auto o = model_options();
  o.push_back({"batch", true, "B.safetensors: input_ids and labels [B, T] (or use --data)"});
  o.push_back({"data", true, "DIR: read the validation split instead of --batch"});
  o.push_back({"eval-tokens", true, "N: validation tokens with --data (65536)"});
  o.push_back({"seq", true, "T: tokens per sequence with --data (the run's, with --ckpt; else 256)"});
  o.push_back({"out", true, out_help});
  return o;
}
inline std::vector<Option> angular_options() { return analysis_options("F.csv: layer,n,distance"); }
inline std::vector<Option> layer_drop_options() { return analysis_options("F.csv: layer,ppl,delta"); }
inline std::vector<Option> residual_rms_options() { return analysis_options("F.csv: layer,rms"); }

// The batches an analysis runs on: the --batch file, or ⌈eval_tokens / T⌉ validation
// windows in groups of 8 sequences.
inline std::vector<Batch> analysis_batches(const Args& a, std::size_t vocab, const nlohmann::json& state) {
  const bool file = a.has("batch"), data = a.has("data");
  if (file == data) throw Error("give the tokens as --batch B.safetensors or as --data DIR (one of them)");
  if (file) return {load_batch(a.required("batch"), vocab)};
  int seq = 256;
  if (state.contains("train")) seq = state["train"].value("seq", 256);
  seq = a.int32("seq", seq, 1);
  TokenStream val(find_shards(a.required("data"), "val"), vocab);
  WindowLoader loader(val, seq, 0, false, "validation split");
  const long long eval_tokens = a.integer("eval-tokens", 65536, 1);
  const std::uint64_t n = std::min<std::uint64_t>(std::uint64_t((eval_tokens + seq - 1) / seq), loader.windows());
  std::vector<Batch> out;
  for (std::uint64_t s = 0; s < n; s += 8) {
    Batch b;
    b.B = int(std::min<std::uint64_t>(8, n - s));
    b.T = seq;
    b.input_ids.resize(std::size_t(b.B) * seq);
    b.labels.resize(b.input_ids.size());
    loader.fill(s, b.B, b.input_ids.data(), b.labels.data());
    out.push_back(std::move(b));
  }
  return out;
}

// Runs the model over the analysis batches and hands `measure` the streams entering each layer
// (and the last layer's output): measure(streams, rows, C), streams[l] → [rows, C].
template <class Net, class Backend, class Measure>
void over_layer_inputs(const Args& a, Measure&& measure) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  for (const Batch& b : analysis_batches(a, Net::config::vocab_size, st)) {
    e.step(b.input_ids.data(), b.labels.data(), b.B, b.T, false);
    const std::size_t R = std::size_t(b.B) * b.T, C = Net::config::hidden_size;
    std::vector<std::vector<float>> streams(Net::num_layers + 1, std::vector<float>(R * C));
    std::vector<const float*> ptrs;
    for (int l = 0; l <= Net::num_layers; ++l) {
      e.layer_input(l, streams[l].data());
      ptrs.push_back(streams[l].data());
    }
    measure(ptrs, int(R), int(C));
  }
}

// An analysis of the layer inputs (AngularDistance, ResidualRms: add(streams, rows, C), csv(),
// tokens()) over the analysis batches, written to --out.
template <class Net, class Backend, class Analysis>
int run_layer_input_analysis(const Args& a, Analysis& an) {
  const std::string out = a.required("out");
  check_output_file(a, out);
  over_layer_inputs<Net, Backend>(a, [&](const auto& streams, int rows, int C) { an.add(streams, rows, C); });
  write_file_atomic(out, an.csv());
  std::printf("{\"tokens\": %llu, \"out\": \"%s\"}\n", (unsigned long long)an.tokens(), out.c_str());
  return 0;
}

template <class Net, class Backend>
int run_angular(const Args& a) {
  AngularDistance ang(Net::num_layers);
  return run_layer_input_analysis<Net, Backend>(a, ang);
}

template <class Net, class Backend>
int run_residual_rms(const Args& a) {
  ResidualRms rms(Net::num_layers);
  return run_layer_input_analysis<Net, Backend>(a, rms);
}

// Token-weighted mean loss over the batches.
template <class E>
double mean_loss(E& e, const std::vector<Batch>& batches, std::uint64_t* tokens = nullptr) {
  double sum = 0;
  std::uint64_t count = 0;
  for (const Batch& b : batches) {
    const StepResult r = e.step(b.input_ids.data(), b.labels.data(), b.B, b.T, false);
    sum += r.loss_sum;
    count += std::uint64_t(r.labels);
  }
  if (count == 0) throw Error("every label is -100: there is no loss to measure");
  if (tokens) *tokens = count;
  return sum / double(count);
}

template <class Net, class Backend>
int run_layer_drop(const Args& a) {
  const std::string out = a.required("out");
  check_output_file(a, out);
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  const std::vector<Batch> batches = analysis_batches(a, Net::config::vocab_size, st);
  std::uint64_t tokens = 0;
  const double base = std::exp(mean_loss(e, batches, &tokens));
  std::string csv = "layer,ppl,delta\n";
  char line[96];
  for (int l = 0; l < Net::num_layers; ++l) {
    e.drop_layer(l);
    const double ppl = std::exp(mean_loss(e, batches));
    std::snprintf(line, sizeof line, "%d,%.9g,%.9g\n", l, ppl, ppl - base);
    csv += line;
  }
  e.drop_layer(-1);
  write_file_atomic(out, csv);
  std::printf("{\"ppl\": %.6f, \"tokens\": %llu, \"out\": \"%s\"}\n", base, (unsigned long long)tokens, out.c_str());
  return 0;
}

}  // namespace mixln::cli
