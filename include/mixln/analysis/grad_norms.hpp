// mixln/analysis/grad_norms.hpp — the L2 norm of all gradients of each layer (the paper's
// Fig. 3e and 6a): linears and norms of layer i; embedding, final norm and head excluded.
#pragma once

#include <cmath>
#include <span>
#include <vector>

#include "../schedule/param_layout.hpp"

namespace mixln {

template <class T>
std::vector<double> layer_grad_norms(const ParamLayout& layout, int num_layers, std::span<const T> grads) {
  std::vector<double> sq(std::size_t(num_layers), 0.0);
  for (auto& p : layout.params) {
    if (p.layer < 0) continue;
    double s = 0;
    for (std::size_t i = 0; i < p.count; ++i) s += double(grads[p.offset + i]) * double(grads[p.offset + i]);
    sq[std::size_t(p.layer)] += s;
  }
  for (auto& v : sq) v = std::sqrt(v);
  return sq;
}

}  // namespace mixln
