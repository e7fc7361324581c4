// mixln/data/loader.hpp — batches of (input_ids, labels) windows from a token stream.
//
// The stream is cut into W = ⌊(N − 1)/T⌋ windows of T + 1 tokens, window w starting at w·T;
// input = window[0, T), labels = window[1, T + 1). Training visits the windows of each epoch
// in an order drawn from (seed, epoch); `sequence` counts windows consumed since the start of
// training, so the data position of a run is one integer (saved in checkpoints).
// Validation reads windows 0, 1, 2, ... in order.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../rng.hpp"
#include "shards.hpp"

namespace mixln {

// The order in which training visits n items: each epoch a permutation drawn from (seed, epoch),
// so the item read as the k-th of training is a function of k alone (a run's data position is one
// integer, saved in checkpoints); without shuffling, 0, 1, 2, ... every epoch.
class EpochOrder {
 public:
  EpochOrder(std::uint64_t n, std::uint64_t seed, bool shuffle) : n_(n), seed_(seed), shuffle_(shuffle) {}
  std::uint64_t size() const { return n_; }
  std::uint64_t operator()(std::uint64_t k) {
    const std::uint64_t epoch = k / n_, i = k % n_;
    if (!shuffle_) return i;
    if (epoch != perm_epoch_ || perm_.empty()) {
      perm_.resize(n_);
      std::iota(perm_.begin(), perm_.end(), std::uint64_t(0));
      Rng rng(splitmix64(seed_ ^ splitmix64(epoch + 0x5bd1e995ull)));
      for (std::uint64_t j = n_ - 1; j > 0; --j) std::swap(perm_[j], perm_[rng.below(j + 1)]);
      perm_epoch_ = epoch;
    }
    return perm_[i];
  }

 private:
  std::uint64_t n_, seed_;
  bool shuffle_;
  std::vector<std::uint64_t> perm_;
  std::uint64_t perm_epoch_ = ~std::uint64_t(0);
};

class WindowLoader {
 public:
  WindowLoader(const TokenStream& stream, int T, std::uint64_t seed, bool shuffle,
               const std::string& what)
      : stream_(&stream), T_(T), order_(windows_of(stream, T, what), seed, shuffle) {}

  std::uint64_t windows() const { return order_.size(); }

  // The window read as the `sequence`-th of training (or validation).
  std::uint64_t window_of(std::uint64_t sequence) { return order_(sequence); }

  // B sequences starting at `sequence`: tokens and labels, each [B, T].
  void fill(std::uint64_t sequence, int B, std::int32_t* tokens, std::int32_t* labels) {
    std::vector<std::int32_t> buf(std::size_t(T_) + 1);
    for (int b = 0; b < B; ++b) {
      const std::uint64_t w = window_of(sequence + std::uint64_t(b));
      stream_->read(w * std::uint64_t(T_), buf.size(), buf.data());
      std::copy(buf.begin(), buf.end() - 1, tokens + std::size_t(b) * T_);
      std::copy(buf.begin() + 1, buf.end(), labels + std::size_t(b) * T_);
    }
  }

 private:
  static std::uint64_t windows_of(const TokenStream& stream, int T, const std::string& what) {
    const std::uint64_t w = stream.size() > 1 ? (stream.size() - 1) / std::uint64_t(T) : 0;
    if (w == 0)
      throw Error(what + ": " + std::to_string(stream.size()) +
                  " tokens are fewer than one sequence of --seq " + std::to_string(T) + " + 1");
    return w;
  }

  const TokenStream* stream_;
  int T_;
  EpochOrder order_;
};

}  // namespace mixln
