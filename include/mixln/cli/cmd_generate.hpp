// mixln/cli/cmd_generate.hpp — `generate`: sample text from a model with the run's tokenizer.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../data/tokenizer.hpp"
#include "../rng.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_source.hpp"

namespace mixln::cli {

inline std::vector<Option> generate_options() {
  auto o = model_options(/*with_seed=*/false);
  o.push_back({"data", true, "DIR: holds tokenizer.model"});
  o.push_back({"prompt", true, "TEXT: the beginning of the text"});
  o.push_back({"tokens", true, "N: tokens to generate (64)"});
  o.push_back({"temperature", true, "T: softmax temperature; 0 = greedy (1.0)"});
  o.push_back({"top-k", true, "K: sample among the K most likely tokens; 0 = all (40)"});
  o.push_back({"seed", true, "S: sampling seed (0)"});
  o.push_back({"context", true, "N: tokens of context the model sees (the run's --seq, or 256)"});
  return o;
}

// Index of the next token: greedy for temperature 0, else top-k sampling.
inline int sample_token(const float* logits, int V, double temperature, int top_k, Rng& rng) {
  if (temperature <= 0) return int(std::max_element(logits, logits + V) - logits);
  std::vector<int> idx(V);
  for (int i = 0; i < V; ++i) idx[i] = i;
  const int k = top_k > 0 ? std::min(top_k, V) : V;
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                    [&](int a, int b) { return logits[a] > logits[b]; });
  const double m = logits[idx[0]];
  std::vector<double> p(k);
  double z = 0;
  for (int i = 0; i < k; ++i) z += p[i] = std::exp((logits[idx[i]] - m) / temperature);
  double u = rng.uniform() * z;
  for (int i = 0; i < k; ++i)
    if ((u -= p[i]) <= 0) return idx[i];
  return idx[k - 1];
}

template <class Net, class Backend>
int run_generate(const Args& a) {
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a, /*allow_seed=*/false);
  const std::string data = a.required("data");
  Tokenizer tok((std::filesystem::path(data) / "tokenizer.model").string());
  if (std::size_t(tok.vocab_size()) != Net::config::vocab_size)
    throw file_error(data, "its tokenizer has " + std::to_string(tok.vocab_size()) +
                               " pieces but the model's vocab is " + std::to_string(Net::config::vocab_size));
  const int n = a.int32("tokens", 64, 0);
  const double temperature = a.real("temperature", 1.0, 0.0);
  const int top_k = a.int32("top-k", 40, 0);
  int context = 256;
  if (st.contains("train")) context = st["train"].value("seq", 256);
  context = a.int32("context", context, 1);
  Rng rng(a.seed("seed"));
  const std::string prompt = a.required("prompt");
  std::vector<int> ids = tok.encode(prompt);
  if (ids.empty()) ids.push_back(tok.bos_id());
  const std::size_t prompt_len = ids.size();
  std::vector<std::int32_t> window;
  for (int i = 0; i < n; ++i) {
    const std::size_t start = ids.size() > std::size_t(context) ? ids.size() - context : 0;
    window.assign(ids.begin() + long(start), ids.end());
    const auto logits = e.last_logits(window.data(), 1, int(window.size()));
    const int next = sample_token(logits.data(), int(Net::config::vocab_size), temperature, top_k, rng);
    if (next == tok.eos_id()) break;
    ids.push_back(next);
  }
  const std::vector<int> gen(ids.begin() + long(prompt_len), ids.end());
  std::printf("%s%s\n", prompt.c_str(), tok.decode(gen).c_str());
  return 0;
}

}  // namespace mixln::cli
