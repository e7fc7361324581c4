// The fp32 PyTorch golden data (tests/golden/make_golden.py): one case's loss and every
// gradient against a model's, as the largest per-tensor relative error; and the sampled
// finite-difference check of an fp64 model's gradients.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <mixln/mixln.hpp>

#include "fd.hpp"

namespace mixln::testing {

inline std::string golden(const std::string& c, const char* file) {
  return std::string(MIXLN_GOLDEN_DIR) + "/" + c + "/" + file;
}

// The largest per-tensor relative error ||g − ref|| / ||ref|| of the gradients `grads` (in the
// layout's order) against the reference file's, and that tensor's name.
template <class T>
std::pair<double, std::string> worst_gradient_error(const ParamLayout& layout, std::span<const T> grads,
                                                    const safetensors::File& ref) {
  double worst = 0;
  std::string worst_name;
  for (auto& p : layout.params) {
    std::vector<double> r(p.count);
    ref.read_float(p.name, p.shape, r.data());
    double num = 0, den = 0;
    for (std::size_t i = 0; i < p.count; ++i) {
      const double g = double(grads[p.offset + i]);
      num += (g - r[i]) * (g - r[i]);
      den += r[i] * r[i];
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    if (rel > worst) worst = rel, worst_name = p.name;
  }
  return {worst, worst_name};
}

// Central differences (h = 1e-5) of `samples` elements of every parameter tensor of an fp64
// engine against `grads`, its gradients of loss(): each within 1e-5 of the tensor's largest
// gradient (at least 1e-4).
template <class Engine, class Loss>
void check_sampled_finite_differences(Engine& e, const std::vector<double>& grads, Loss&& loss, std::mt19937_64& g,
                                      int samples) {
  for (auto& p : e.layout().params) {
    std::vector<std::size_t> idx;
    for (int k = 0; k < samples; ++k) idx.push_back(g() % p.count);
    double scale = 1e-4;
    for (std::size_t i = 0; i < p.count; ++i) scale = std::max(scale, std::abs(grads[p.offset + i]));
    for (auto i : idx) {
      double& w = e.params()[p.offset + i];
      const double w0 = w, h = 1e-5;
      w = w0 + h;
      const double lp = loss();
      w = w0 - h;
      const double lm = loss();
      w = w0;
      INFO(p.name << "[" << i << "]");
      CHECK(std::abs((lp - lm) / (2 * h) - grads[p.offset + i]) / scale <= 1e-5);
    }
  }
}

// Per-tensor relative error ||g − ref|| / ||ref|| of every gradient, and of the loss, with
// GEMMs in `precision`.
template <class Net, class T>
double check_against_golden(const std::string& name, double tol, Precision precision = Precision::fp32) {
  Engine<Net, cpu::Backend<T>> e(precision);
  load_params(e.layout(), e.params(), golden(name, "weights.safetensors"));
  const Batch b = load_batch(golden(name, "batch.safetensors"), Net::config::vocab_size);
  e.zero_grad();
  const double loss = e.step(b.input_ids.data(), b.labels.data(), b.B, b.T, true).mean();
  safetensors::File ref(golden(name, "grads.safetensors"));
  float ref_loss = 0;
  ref.read_float("loss", {1}, &ref_loss);
  INFO(name << " (" << (sizeof(T) == 8 ? "fp64" : precision_name(precision)) << ")");
  CHECK(std::abs(loss - ref_loss) / std::abs(ref_loss) <= tol);
  const auto [worst, worst_name] = worst_gradient_error<T>(e.layout(), e.grads(), ref);
  INFO("worst tensor " << worst_name << ": relative error " << worst);
  CHECK(worst <= tol);
  return std::max(worst, std::abs(loss - ref_loss) / std::abs(ref_loss));
}

}  // namespace mixln::testing
