// mixln/analysis/residual_rms.hpp — the size of the residual stream through the stack: the RMS
// of the stream entering each layer, √(mean over tokens and channels of x²), and of the last
// layer's output before the final norm (row L). Pre-LN's stream grows with depth, which is
// what shrinks its deep layers' share of the output and their gradients (the Mix-LN paper's
// Eq. 7); Post-LN's is renormalised at every layer.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mixln {

class ResidualRms {
 public:
  explicit ResidualRms(int num_layers) : sum_(std::size_t(num_layers) + 1, 0.0) {}

  // streams[l] → [rows, C], the stream entering layer l, for l = 0..L.
  void add(const std::vector<const float*>& streams, int rows, int C) {
    const std::size_t n = std::size_t(rows) * std::size_t(C);
    for (std::size_t l = 0; l < sum_.size(); ++l) {
      const float* x = streams[l];
      double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static)
      for (std::size_t i = 0; i < n; ++i) s += double(x[i]) * x[i];
      sum_[l] += s;
    }
    values_ += n;
    tokens_ += std::uint64_t(rows);
  }

  double rms(int l) const { return values_ ? std::sqrt(sum_[std::size_t(l)] / double(values_)) : 0.0; }
  std::uint64_t tokens() const { return tokens_; }

  // "layer,rms" for l = 0..L (L: the last layer's output, before the final norm).
  std::string csv() const {
    std::string out = "layer,rms\n";
    char line[64];
    for (std::size_t l = 0; l < sum_.size(); ++l) {
      std::snprintf(line, sizeof line, "%zu,%.9g\n", l, rms(int(l)));
      out += line;
    }
    return out;
  }

 private:
  std::vector<double> sum_;
  std::uint64_t values_ = 0, tokens_ = 0;
};

}  // namespace mixln
