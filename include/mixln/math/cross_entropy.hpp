// mixln/math/cross_entropy.hpp — softmax cross-entropy of one row of logits, fused with its
// gradient so that no second logits buffer is needed.
//
//   loss = logsumexp(z) − z[label]
//   dz   = (softmax(z) − onehot(label)) · scale        written over z
// A row whose label is the ignore index (−100) has no loss and a zero gradient.
#pragma once

#include <cmath>

#include "../config.hpp"
#include "fast_exp.hpp"

namespace mixln {

// Returns the row's loss (0 when ignored) and turns z into scale · dloss/dz in place.
template <class Row, class T>
MIXLN_HD T cross_entropy_row(const Row& row, T* z, long long label, T scale) {
  using std::log;
  if (label == kIgnoreIndex) {
    row.each([&](int j) { z[j] = T(0); });
    return T(0);
  }
  const T target = z[label];  // read before any thread overwrites z
  const T m = row.max([&](int j) { return z[j]; });
  const T sum = row.sum([&](int j) {
    const T e = fast_exp(z[j] - m);
    z[j] = e;
    return e;
  });
  const T inv = T(1) / sum;
  row.each([&](int j) { z[j] = (z[j] * inv - (j == label ? T(1) : T(0))) * scale; });
  return log(sum) + m - target;
}

// The loss alone (evaluation): logsumexp(z) − z[label], z left untouched.
template <class Row, class T>
MIXLN_HD T cross_entropy_loss_row(const Row& row, const T* z, long long label) {
  using std::log;
  if (label == kIgnoreIndex) return T(0);
  const T m = row.max([&](int j) { return z[j]; });
  const T sum = row.sum([&](int j) { return fast_exp(z[j] - m); });
  return log(sum) + m - z[label];
}

}  // namespace mixln
