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

class WindowLoader {
 public:
  WindowLoader(const TokenStream& stream, int T, std::uint64_t seed, bool shuffle,
               const std::string& what)
      : stream_(&stream), T_(T), seed_(seed), shuffle_(shuffle) {
    windows_ = stream.size() > 1 ? (stream.size() - 1) / std::uint64_t(T) : 0;
    if (windows_ == 0)
      throw Error(what + ": " + std::to_string(stream.size()) +
                  " tokens are fewer than one sequence of --seq " + std::to_string(T) + " + 1");
  }

  std::uint64_t windows() const { return windows_; }

  // The window read as the `sequence`-th of training (or validation).
  std::uint64_t window_of(std::uint64_t sequence) {
    const std::uint64_t epoch = sequence / windows_, i = sequence % windows_;
    if (!shuffle_) return i;
    if (epoch != perm_epoch_ || perm_.empty()) {
      perm_.resize(windows_);
      std::iota(perm_.begin(), perm_.end(), std::uint64_t(0));
      Rng rng(splitmix64(seed_ ^ splitmix64(epoch + 0x5bd1e995ull)));
      for (std::uint64_t k = windows_ - 1; k > 0; --k) std::swap(perm_[k], perm_[rng.below(k + 1)]);
      perm_epoch_ = epoch;
    }
    return perm_[i];
  }

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
  const TokenStream* stream_;
  int T_;
  std::uint64_t seed_;
  bool shuffle_;
  std::uint64_t windows_ = 0;
  std::vector<std::uint64_t> perm_;
  std::uint64_t perm_epoch_ = ~std::uint64_t(0);
};

}  // namespace mixln
