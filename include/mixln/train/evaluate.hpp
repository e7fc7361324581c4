// mixln/train/evaluate.hpp — the validation loss of a model on a token stream, and of a
// classifier on an image split (with its top-1 accuracy).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../data/image_loader.hpp"
#include "../data/image_shards.hpp"
#include "../data/loader.hpp"
#include "../data/shards.hpp"
#include "../dist/communicator.hpp"
#include "../schedule/engine.hpp"

namespace mixln {

struct EvalResult {
  double loss = 0, ppl = 0;
  std::uint64_t tokens = 0;  // the labels evaluated: tokens, or images
  double accuracy = -1;      // a classifier's top-1 accuracy (−1: not a classifier)
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

// Mean loss and top-1 accuracy of a classifier (ClassHead) over the first max_images images of
// the split (all if 0 or fewer), in order, B at a time; pixels normalised with `stats` (the
// training split's). With several ranks, rank r takes every W-th group and the sums are reduced.
template <class E>
EvalResult evaluate_images(E& e, const ImageSplit& val, const PixelStatistics& stats, long long max_images, int B,
                           Communicator* comm = nullptr) {
  using Net = typename E::model_type;
  constexpr int T = Net::input::fixed_seq, K = int(Net::head::K);
  ImageLoader loader(val, stats, 0, /*shuffle=*/false);
  const std::uint64_t n = max_images > 0 ? std::min<std::uint64_t>(std::uint64_t(max_images), val.size()) : val.size();
  const int rank = comm ? comm->rank() : 0, world = comm ? comm->size() : 1;
  std::vector<float> px(Net::input::input_count(B, T));
  std::vector<std::int32_t> lab(static_cast<std::size_t>(B));
  std::vector<typename E::T> logits(std::size_t(B) * K);
  double sums[3] = {0, 0, 0};  // loss · labels, labels, correct
  std::uint64_t group = 0;
  for (std::uint64_t s = 0; s < n; s += std::uint64_t(B), ++group) {
    if (int(group % std::uint64_t(world)) != rank) continue;
    const int b = int(std::min<std::uint64_t>(std::uint64_t(B), n - s));
    loader.fill(s, b, px.data(), lab.data());
    const StepResult r = e.step(px.data(), lab.data(), b, T, false);
    sums[0] += r.loss_sum;
    sums[1] += double(r.labels);
    e.copy_head_activation(Net::head::logits, logits.data(), std::size_t(b) * K);
    for (int i = 0; i < b; ++i) {
      const auto* row = logits.data() + std::size_t(i) * K;
      sums[2] += lab[std::size_t(i)] >= 0 && int(std::max_element(row, row + K) - row) == lab[std::size_t(i)];
    }
  }
  if (comm) comm->allreduce_sum(sums, 3);
  EvalResult r;
  r.tokens = std::uint64_t(sums[1]);
  r.loss = sums[1] > 0 ? sums[0] / sums[1] : 0.0;
  r.ppl = std::exp(r.loss);
  r.accuracy = sums[1] > 0 ? sums[2] / sums[1] : 0.0;
  return r;
}

}  // namespace mixln
