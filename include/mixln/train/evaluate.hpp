// mixln/train/evaluate.hpp — the validation loss of a model on a token stream.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../data/loader.hpp"
#include "../data/shards.hpp"
#include "../dist/communicator.hpp"
#include "../schedule/engine.hpp"

namespace mixln {

struct EvalResult {
  double loss = 0, ppl = 0;
  std::uint64_t tokens = 0;
};

// Mean loss over the first ⌈eval_tokens / T⌉ validation windows (all of them if fewer). With
// several ranks, rank r takes every W-th group of B windows and the sums are reduced.
template <class E>
EvalResult evaluate(E& e, const TokenStream& val, long long eval_tokens, int B, int T, Communicator* comm = nullptr) {
  WindowLoader loader(val, T, 0, /*shuffle=*/false, "validation split");
  const std::uint64_t want = std::uint64_t((eval_tokens + T - 1) / T);
  const std::uint64_t n = std::min<std::uint64_t>(std::max<std::uint64_t>(want, 1), loader.windows());
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->size() : 1;
  std::vector<std::int32_t> tok(std::size_t(B) * T), lab(std::size_t(B) * T);
  double sums[2] = {0, 0};  // loss · labels, labels
  std::uint64_t group = 0;
  for (std::uint64_t s = 0; s < n; s += std::uint64_t(B), ++group) {
    if (int(group % std::uint64_t(world)) != rank) continue;
    const int b = int(std::min<std::uint64_t>(std::uint64_t(B), n - s));
    loader.fill(s, b, tok.data(), lab.data());
    const StepResult r = e.step(tok.data(), lab.data(), b, T, false);
    sums[0] += r.loss_sum;
    sums[1] += double(r.labels);
  }
  if (comm) comm->allreduce_sum(sums, 2);
  EvalResult r;
  r.tokens = std::uint64_t(sums[1]);
  r.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  r.ppl = std::exp(r.loss);
  return r;
}

}  // namespace mixln
