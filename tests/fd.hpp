// tests/fd.hpp — central finite differences in double precision, and random fills.
#pragma once

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace fd {

inline std::vector<double> random_vec(std::size_t n, std::mt19937_64& g, double scale = 1.0,
                                      double mean = 0.0) {
  std::normal_distribution<double> d(mean, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

// Checks grad[i] = d loss / d x[i] for every i (or every `stride`-th) by central differences.
inline void check(const std::string& what, std::vector<double>& x, const std::vector<double>& grad,
                  const std::function<double()>& loss, double h = 1e-5, double tol = 1e-6,
                  std::size_t stride = 1) {
  REQUIRE(grad.size() == x.size());
  double scale = 1e-3;
  for (double g : grad) scale = std::max(scale, std::abs(g));
  double worst = 0;
  std::size_t worst_i = 0;
  for (std::size_t i = 0; i < x.size(); i += stride) {
    const double x0 = x[i];
    x[i] = x0 + h;
    const double lp = loss();
    x[i] = x0 - h;
    const double lm = loss();
    x[i] = x0;
    const double err = std::abs((lp - lm) / (2 * h) - grad[i]) / scale;
    if (err > worst) worst = err, worst_i = i;
  }
  INFO(what << ": worst relative error " << worst << " at index " << worst_i);
  CHECK(worst <= tol);
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace fd
