// mixln/cli/cmd_analysis.hpp — `angular`, `layer-drop` and `residual-rms`: the paper's
// layer-effectiveness measurements and the size of the residual stream, on a batch file or on a
// budget of the validation split (tokens, or images for a vision model: model_batches.hpp).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../analysis/angular.hpp"
#include "../analysis/residual_rms.hpp"
#include "../io/atomic_file.hpp"
#include "../io/model_io.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_batches.hpp"
#include "model_source.hpp"

namespace mixln::cli {

// A vision model reads its first 1024 validation images by default, 64 per forward pass; a
// language model its first 65536 validation tokens, 8 sequences per pass.
inline constexpr long long kAnalysisImages = 1024;
template <class Net>
inline constexpr int analysis_group = is_vision_model_v<Net> ? 64 : 8;

template <class Net>
std::vector<Option> analysis_options(const char* out_help) {
  auto o = model_options();
  for (Option& x : batch_source_options<Net>(kAnalysisImages)) o.push_back(std::move(x));
  o.push_back({"out", true, out_help});
  return o;
}
template <class Net>
std::vector<Option> angular_options() { return analysis_options<Net>("F.csv: layer,n,distance"); }
template <class Net>
std::vector<Option> layer_drop_options() {
  return analysis_options<Net>(is_vision_model_v<Net> ? "F.csv: layer,loss,accuracy,loss_delta,accuracy_delta"
                                                      : "F.csv: layer,ppl,delta");
}
template <class Net>
std::vector<Option> residual_rms_options() { return analysis_options<Net>("F.csv: layer,rms"); }

// Runs the model over the analysis batches and hands `measure` the streams entering each layer
// (and the last layer's output): measure(streams, rows, C), streams[l] → [rows, C].
template <class Net, class Backend, class Measure>
void over_layer_inputs(const Args& a, Measure&& measure) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  for (const auto& b : model_batches<Net>(a, st, analysis_group<Net>, kAnalysisImages)) {
    e.step(batch_input(b), b.labels.data(), b.B, b.T, false);
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

// The loss over the batches, weighted by label (tokens, or images), and for a vision model the
// top-1 accuracy.
struct BatchScore {
  double loss = 0, accuracy = 0;
  std::uint64_t labels = 0;
};
template <class E, class B>
BatchScore score_batches(E& e, const std::vector<B>& batches) {
  using Net = typename E::model_type;
  double sum = 0, correct = 0;
  std::uint64_t count = 0;
  for (const B& b : batches) {
    const StepResult r = e.step(batch_input(b), b.labels.data(), b.B, b.T, false);
    sum += r.loss_sum;
    count += std::uint64_t(r.labels);
    if constexpr (is_vision_model_v<Net>) {
      constexpr int K = int(Net::head::K);
      std::vector<typename E::T> logits(std::size_t(b.B) * K);
      e.copy_head_activation(Net::head::logits, logits.data(), logits.size());
      for (int i = 0; i < b.B; ++i) {
        const auto* row = logits.data() + std::size_t(i) * K;
        correct += b.labels[std::size_t(i)] >= 0 && int(std::max_element(row, row + K) - row) == b.labels[std::size_t(i)];
      }
    }
  }
  if (count == 0) throw Error("every label is -100: there is no loss to measure");
  return {sum / double(count), correct / double(count), count};
}

// Removes each layer in turn (Engine::drop_layer) and scores the model without it: a language
// model's perplexity, a vision model's loss and top-1 accuracy.
template <class Net, class Backend>
int run_layer_drop(const Args& a) {
  const std::string out = a.required("out");
  check_output_file(a, out);
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  const auto batches = model_batches<Net>(a, st, analysis_group<Net>, kAnalysisImages);
  const BatchScore base = score_batches(e, batches);
  std::string csv = is_vision_model_v<Net> ? "layer,loss,accuracy,loss_delta,accuracy_delta\n" : "layer,ppl,delta\n";
  char line[128];
  for (int l = 0; l < Net::num_layers; ++l) {
    e.drop_layer(l);
    const BatchScore s = score_batches(e, batches);
    if constexpr (is_vision_model_v<Net>)
      std::snprintf(line, sizeof line, "%d,%.9g,%.9g,%.9g,%.9g\n", l, s.loss, s.accuracy, s.loss - base.loss,
                    s.accuracy - base.accuracy);
    else
      std::snprintf(line, sizeof line, "%d,%.9g,%.9g\n", l, std::exp(s.loss), std::exp(s.loss) - std::exp(base.loss));
    csv += line;
  }
  e.drop_layer(-1);
  write_file_atomic(out, csv);
  if constexpr (is_vision_model_v<Net>)
    std::printf("{\"loss\": %.6f, \"accuracy\": %.6f, \"images\": %llu, \"out\": \"%s\"}\n", base.loss, base.accuracy,
                (unsigned long long)base.labels, out.c_str());
  else
    std::printf("{\"ppl\": %.6f, \"tokens\": %llu, \"out\": \"%s\"}\n", std::exp(base.loss),
                (unsigned long long)base.labels, out.c_str());
  return 0;
}

}  // namespace mixln::cli
