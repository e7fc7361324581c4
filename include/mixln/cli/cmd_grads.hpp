// mixln/cli/cmd_grads.hpp — `grads` and `grad-norms` (one forward/backward on a batch file) and
// `logits` (one forward pass on a batch file).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../analysis/grad_norms.hpp"
#include "../io/atomic_file.hpp"
#include "../io/model_io.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_batches.hpp"
#include "model_source.hpp"

namespace mixln::cli {

// A language model's grads and grad-norms read a batch file; a vision model's read one too, or
// the first --eval-images validation images (64) as one batch.
inline constexpr long long kGradImages = 64;
template <class Net>
std::vector<Option> grad_batch_options() {
  if constexpr (is_vision_model_v<Net>) return batch_source_options<Net>(kGradImages);
  else return {{"batch", true, "B.safetensors: input_ids and labels, [B, T]"}};
}
template <class Net>
std::vector<Option> grads_options() {
  auto o = model_options();
  for (Option& x : grad_batch_options<Net>()) o.push_back(std::move(x));
  o.push_back({"out", true, "G.safetensors: the loss and every parameter's gradient"});
  return o;
}
inline std::vector<Option> logits_options() {
  auto o = model_options();
  o.push_back({"batch", true, "B.safetensors: input_ids and labels, [B, T]"});
  o.push_back({"out", true, "F.safetensors: logits [B, T, V] (F32) and the loss"});
  return o;
}
template <class Net>
std::vector<Option> grad_norms_options() {
  auto o = model_options();
  for (Option& x : grad_batch_options<Net>()) o.push_back(std::move(x));
  o.push_back({"out", true, "F.csv: layer,grad_norm"});
  return o;
}

// Loads the model and the batch, runs forward/backward; returns the loss.
template <class E>
double forward_backward_on_batch(E& e, const Args& a) {
  using Net = typename E::model_type;
  check_output_file(a, a.required("out"));
  const nlohmann::json st = load_model<Net>(e, a);
  std::vector<ModelBatch<Net>> batches;
  if constexpr (is_vision_model_v<Net>)
    batches = model_batches<Net>(a, st, int(std::min<long long>(a.integer("eval-images", kGradImages, 1), 1 << 20)),
                                 kGradImages);  // one batch
  else
    batches.push_back(load_batch(a.required("batch"), E::V));
  const auto& b = batches.front();
  e.zero_grad();
  const StepResult r = e.step(batch_input(b), b.labels.data(), b.B, b.T, /*backward=*/true);
  const long long n_labels = r.labels;
  const double loss = r.mean();
  e.sync_to_host();
  if (n_labels == 0)
    throw Error(std::string(a.has("batch") ? a.required("batch") + ": " : "") +
                "every label is -100: there is no loss to differentiate");
  if (!std::isfinite(loss)) throw Error("the loss is " + std::to_string(loss) + " (not finite)");
  std::printf("{\"loss\": %.8g, \"%s\": %lld}\n", loss, is_vision_model_v<Net> ? "images" : "tokens", n_labels);
  return loss;
}

template <class Net, class Backend>
int run_grads(const Args& a) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const double loss = forward_backward_on_batch(e, a);
  save_params(e.layout(), std::span<const typename Backend::scalar>(e.grads()), a.required("out"),
              {{"loss", float(loss)}});
  return 0;
}

// One forward pass; writes its logits, e.g. to compare with another implementation of the model.
template <class Net, class Backend>
int run_logits(const Args& a) {
  const std::string batch_path = a.required("batch"), out = a.required("out");
  check_output_file(a, out);
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  load_model<Net>(e, a);
  const Batch b = load_batch(batch_path, Net::config::vocab_size);
  const StepResult r = e.step(b.input_ids.data(), b.labels.data(), b.B, b.T, /*backward=*/false);
  std::vector<typename Backend::scalar> logits(std::size_t(b.B) * b.T * Net::config::vocab_size);
  e.copy_logits(logits.data());
  safetensors::Writer w;
  w.metadata("format", "pt");
  const float loss = float(r.mean());
  w.add("loss", {1}, &loss);
  w.add("logits", {std::size_t(b.B), std::size_t(b.T), Net::config::vocab_size}, logits.data());
  w.write(out);
  std::printf("{\"loss\": %.8g, \"tokens\": %lld}\n", r.mean(), r.labels);
  return 0;
}

template <class Net, class Backend>
int run_grad_norms(const Args& a) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  forward_backward_on_batch(e, a);
  std::string csv = "layer,grad_norm\n";
  const auto norms = layer_grad_norms(e.layout(), Net::num_layers, std::span<const typename Backend::scalar>(e.grads()));
  char line[64];
  for (int l = 0; l < int(norms.size()); ++l) {
    std::snprintf(line, sizeof line, "%d,%.9g\n", l, norms[l]);
    csv += line;
  }
  write_file_atomic(a.required("out"), csv);
  return 0;
}

}  // namespace mixln::cli
