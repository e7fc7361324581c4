// The user's model differentiates correctly: every tensor's gradient, sampled, against central
// finite differences in double precision. Prints one line; exits 1 on a mismatch.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "my_model.hpp"

using Cfg = mixln::LlamaConfig<mixln::vocab<64>, mixln::hidden<32>, mixln::intermediate<48>, mixln::heads<2>>;

int main() {
  using Net = my::Net<Cfg>;
  mixln::Engine<Net, mixln::cpu::Backend<double>> e;
  mixln::init_params(e.layout(), Net::num_layers, e.params(), {.seed = 3, .std = 0.2});
  std::mt19937_64 g(5);
  for (auto& p : e.layout().params)  // norm parameters away from their init
    if (p.kind == mixln::ParamKind::norm)
      for (std::size_t i = 0; i < p.count; ++i) e.params()[p.offset + i] += 0.1 * (double(g() % 100) / 50 - 1);
  const int B = 2, T = 5;
  std::vector<std::int32_t> tok(B * T), lab(B * T);
  for (int i = 0; i < B * T; ++i) tok[i] = int(g() % 64), lab[i] = int(g() % 64);
  e.zero_grad();
  e.step(tok.data(), lab.data(), B, T, true);
  const std::vector<double> grads(e.grads().begin(), e.grads().end());
  double worst = 0;
  std::string worst_name;
  for (auto& p : e.layout().params) {
    double scale = 1e-4;
    for (std::size_t i = 0; i < p.count; ++i) scale = std::max(scale, std::abs(grads[p.offset + i]));
    for (int k = 0; k < 3; ++k) {
      const std::size_t i = p.offset + g() % p.count;
      double& w = e.params()[i];
      const double w0 = w, h = 1e-5;
      w = w0 + h;
      const double lp = e.step(tok.data(), lab.data(), B, T, false).mean();
      w = w0 - h;
      const double lm = e.step(tok.data(), lab.data(), B, T, false).mean();
      w = w0;
      const double err = std::abs((lp - lm) / (2 * h) - grads[i]) / scale;
      if (err > worst) worst = err, worst_name = p.name;
    }
  }
  std::printf("%s: %zu tensors, worst relative gradient error %.2e (%s)\n", worst <= 1e-5 ? "ok" : "FAILED",
              e.layout().params.size(), worst, worst_name.c_str());
  return worst <= 1e-5 ? 0 : 1;
}
