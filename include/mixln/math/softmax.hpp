// mixln/math/softmax.hpp — the softmax of one attention row over its first `len` keys.
//
// Row t of a [T, T] score matrix attends to keys j < len — len = t + 1 under a causal mask,
// len = T without one: p_j = exp(s_j − m) / Σ exp(s_k − m) for j < len and p_j = 0 beyond.
// The backward: ds_j = p_j · (dp_j − Σ_k p_k dp_k).
#pragma once

#include <cmath>

#include "../config.hpp"
#include "fast_exp.hpp"

namespace mixln {

// In place over s[0, n); the first `len` entries are live, the rest become 0. Also returns the
// row's statistics: *m its maximum, *inv the inverse of Σ exp(s_j − m) — what attention saves
// for backward instead of the probabilities.
template <class Row, class T>
MIXLN_HD void softmax_row_stats(const Row& row, T* s, int len, T* m_out, T* inv_out) {
  const T m = row.max([&](int j) { return j < len ? s[j] : s[0]; });
  const T z = row.sum([&](int j) {
    const T e = j < len ? fast_exp(s[j] - m) : T(0);
    s[j] = e;
    return e;
  });
  const T inv = T(1) / z;
  row.each([&](int j) { s[j] *= inv; });
  *m_out = m;
  *inv_out = inv;
}

// The probabilities again from the scores and the saved statistics, in place over s[0, n):
// the same operations as softmax_row_stats, so the same values bit for bit.
template <class Row, class T>
MIXLN_HD void softmax_recompute_row(const Row& row, T* s, int len, T m, T inv) {
  row.each([&](int j) { s[j] = j < len ? fast_exp(s[j] - m) * inv : T(0); });
}

// dp (in place) becomes ds, given the probabilities p of the forward.
template <class Row, class T>
MIXLN_HD void softmax_backward_row(const Row& row, const T* p, T* dp) {
  const T dot = row.sum([&](int j) { return p[j] * dp[j]; });
  row.each([&](int j) { dp[j] = p[j] * (dp[j] - dot); });
}

}  // namespace mixln
