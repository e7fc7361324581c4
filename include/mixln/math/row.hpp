// mixln/math/row.hpp — how a per-row op visits its row.
//
// Every per-row op (fused residual+norm boundary, softmax, cross-entropy) is written once as
// a function template over a Row executor, which offers two things:
//   row.n          the row length
//   row.sum(f)     Σ f(j) over j in [0, n), every j visited exactly once (f may store)
//   row.max(f)     max f(j)
//   row.each(f)    f(j) for every j
// The CPU backend's SerialRow loops over j; the CUDA backend's executor strides j over the
// threads of a block and reduces with cub::BlockReduce. A thread visits the same j in every
// call, so values a thread stores in one phase are the ones it reads in the next.
#pragma once

#include "../config.hpp"

namespace mixln {

struct SerialRow {
  int n;

  // Four interleaved partial sums: shorter dependency chains, and a fixed order, so the
  // result is bitwise reproducible.
  template <class F>
  MIXLN_HD auto sum(F&& f) const {
    using R = decltype(f(0));
    R acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
      acc0 += f(j);
      acc1 += f(j + 1);
      acc2 += f(j + 2);
      acc3 += f(j + 3);
    }
    for (; j < n; ++j) acc0 += f(j);
    return (acc0 + acc1) + (acc2 + acc3);
  }

  template <class F>
  MIXLN_HD auto max(F&& f) const {
    auto m = f(0);
    for (int j = 1; j < n; ++j) {
      auto v = f(j);
      m = v > m ? v : m;
    }
    return m;
  }

  template <class F>
  MIXLN_HD void each(F&& f) const {
    for (int j = 0; j < n; ++j) f(j);
  }
};

}  // namespace mixln
