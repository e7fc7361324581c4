// mixln/math/row.hpp — how a per-row op visits its row.
//
// Every per-row op (fused residual+norm boundary, softmax, cross-entropy) is written once as
// a function template over a Row executor, which offers two things:
//   row.n          the row length
//   row.sum(f)     Σ f(j) over j in [0, n), every j visited exactly once (f may store)
//   row.max(f)     max f(j)
//   row.each(f)    f(j) for every j
//   row.leader()   true on exactly one of the threads that share the row — the one that
//                  visits j = 0 in each() — for a store of a value every thread holds, such as
//                  a reduction's result (a scalar parameter's gradient goes to element 0 of
//                  its partial row, which that same thread zeroed)
// The CPU backend's SerialRow loops over j; the CUDA backend's executor strides j over the
// threads of a block and reduces with cub::BlockReduce. A thread visits the same j in every
// call, so values a thread stores in one phase are the ones it reads in the next.
#pragma once

#include "../config.hpp"

namespace mixln {

struct SerialRow {
  int n;

  // Vectorised reductions (`omp simd`): the summation order is fixed by the compiled code, so
  // results are reproducible run to run with the same binary.
  template <class F>
  MIXLN_HD auto sum(F&& f) const {
    using R = decltype(f(0));
    R acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int j = 0; j < n; ++j) acc += f(j);
    return acc;
  }

  template <class F>
  MIXLN_HD auto max(F&& f) const {
    auto m = f(0);
#pragma omp simd reduction(max : m)
    for (int j = 1; j < n; ++j) {
      const auto v = f(j);
      m = v > m ? v : m;
    }
    return m;
  }

  template <class F>
  MIXLN_HD void each(F&& f) const {
#pragma omp simd
    for (int j = 0; j < n; ++j) f(j);
  }

  MIXLN_HD bool leader() const { return true; }
};

}  // namespace mixln
