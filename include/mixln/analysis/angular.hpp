// mixln/analysis/angular.hpp — angular distance between the inputs of layers (Gromov et al.,
// 2024; the Mix-LN paper's Fig. 2, 3 and 5).
//
//   d(x^ℓ, x^{ℓ+n}) = arccos( x^ℓ·x^{ℓ+n} / (|x^ℓ| |x^{ℓ+n}|) ) / π   ∈ [0, 1]
//
// per token, where x^ℓ is the residual stream entering layer ℓ and x^L the last layer's output
// before the final norm; averaged over every token seen. Small values: layer ℓ..ℓ+n−1 barely
// change the representation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace mixln {

class AngularDistance {
 public:
  explicit AngularDistance(int num_layers) : L_(num_layers), sum_(std::size_t(L_ + 1) * (L_ + 1), 0.0) {}

  // streams[l] → [rows, C], the stream entering layer l, for l = 0..L.
  void add(const std::vector<const float*>& streams, int rows, int C) {
    const int L = L_;
    std::vector<double> total(sum_.size(), 0.0);
#pragma omp parallel
    {
      std::vector<double> local(sum_.size(), 0.0);
      std::vector<double> norm(std::size_t(L) + 1);
#pragma omp for schedule(static)
      for (int r = 0; r < rows; ++r) {
        for (int l = 0; l <= L; ++l) {
          const float* x = streams[l] + std::size_t(r) * C;
          double s = 0;
          for (int j = 0; j < C; ++j) s += double(x[j]) * x[j];
          norm[l] = std::sqrt(s);
        }
        for (int l = 0; l < L; ++l)
          for (int m = l + 1; m <= L; ++m) {
            const float* a = streams[l] + std::size_t(r) * C;
            const float* b = streams[m] + std::size_t(r) * C;
            double dot = 0;
            for (int j = 0; j < C; ++j) dot += double(a[j]) * b[j];
            const double den = norm[l] * norm[m];
            const double cs = den > 0 ? std::clamp(dot / den, -1.0, 1.0) : 1.0;
            local[std::size_t(l) * (L + 1) + m] += std::acos(cs) / M_PI;
          }
      }
#pragma omp critical
      for (std::size_t i = 0; i < total.size(); ++i) total[i] += local[i];
    }
    for (std::size_t i = 0; i < sum_.size(); ++i) sum_[i] += total[i];
    tokens_ += std::uint64_t(rows);
  }

  std::uint64_t tokens() const { return tokens_; }
  // Mean d(x^l, x^{l+n}), 1 ≤ n ≤ L − l.
  double distance(int l, int n) const {
    return tokens_ ? sum_[std::size_t(l) * (L_ + 1) + l + n] / double(tokens_) : 0.0;
  }

  // `layer,n,distance` for every l in [0, L) and n in [1, L − l].
  std::string csv() const {
    std::string out = "layer,n,distance\n";
    char line[64];
    for (int l = 0; l < L_; ++l)
      for (int n = 1; n <= L_ - l; ++n) {
        std::snprintf(line, sizeof line, "%d,%d,%.9g\n", l, n, distance(l, n));
        out += line;
      }
    return out;
  }

 private:
  int L_;
  std::vector<double> sum_;
  std::uint64_t tokens_ = 0;
};

}  // namespace mixln
