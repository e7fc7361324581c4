// The fp32 PyTorch golden data (tests/golden/make_golden.py): one case's loss and every
// gradient against a model's, as the largest per-tensor relative error.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <mixln/mixln.hpp>

#include "fd.hpp"

namespace mixln::testing {

inline std::string golden(const std::string& c, const char* file) {
  return std::string(MIXLN_GOLDEN_DIR) + "/" + c + "/" + file;
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
  double worst = 0;
  std::string worst_name;
  for (auto& p : e.layout().params) {
    std::vector<double> r(p.count);
    ref.read_float(p.name, p.shape, r.data());
    double num = 0, den = 0;
    for (std::size_t i = 0; i < p.count; ++i) {
      const double g = double(e.grads()[p.offset + i]);
      num += (g - r[i]) * (g - r[i]);
      den += r[i] * r[i];
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    if (rel > worst) worst = rel, worst_name = p.name;
  }
  INFO("worst tensor " << worst_name << ": relative error " << worst);
  CHECK(worst <= tol);
  return std::max(worst, std::abs(loss - ref_loss) / std::abs(ref_loss));
}

}  // namespace mixln::testing
