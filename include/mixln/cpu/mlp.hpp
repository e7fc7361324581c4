// mixln/cpu/mlp.hpp — the SwiGLU gate over [rows, I], on the CPU.
//
//   gu  [rows, 2I]  gate | up, the output of one [2I, C] GEMM
//   act [rows, I]   silu(gate) · up
// Each tensor is T or, under --precision bf16, bf16 (act_ptr.hpp); the arithmetic is in T (fp32
// for bf16 tensors), each result rounded once as it is stored.
#pragma once

#include <cstddef>

#include "../math/half.hpp"
#include "../math/swiglu.hpp"
#include "act_visit.hpp"

namespace mixln::cpu {

template <class G, class A>
void swiglu_forward_rows(int rows, int I, const G* gu, A* act) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const G* g = gu + std::size_t(r) * 2 * I;
    const G* u = g + I;
    A* a = act + std::size_t(r) * I;
    for (int j = 0; j < I; ++j) a[j] = from_float<A>(swiglu(to_float(g[j]), to_float(u[j])));
  }
}

template <class G, class A, class D>
void swiglu_backward_rows(int rows, int I, const G* gu, const A* dact, D* dgu) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const G* g = gu + std::size_t(r) * 2 * I;
    const G* u = g + I;
    const A* da = dact + std::size_t(r) * I;
    D* dg = dgu + std::size_t(r) * 2 * I;
    D* du = dg + I;
    for (int j = 0; j < I; ++j) {
      decltype(to_float(g[j])) dgj, duj;
      mixln::swiglu_backward(to_float(g[j]), to_float(u[j]), decltype(dgj)(to_float(da[j])), dgj, duj);
      dg[j] = from_float<D>(dgj);
      du[j] = from_float<D>(duj);
    }
  }
}

// The op family of cpu::Backend<T> (backend_ops.hpp).
template <class T>
struct SwigluOps {
  static void swiglu_forward(int rows, int I, ActPtr<const T> gu, ActPtr<T> act) {
    visit_act(gu, [&](auto* g) { visit_act(act, [&](auto* a) { swiglu_forward_rows(rows, I, g, a); }); });
  }

  // dgu [rows, 2I] (=) from dact [rows, I].
  static void swiglu_backward(int rows, int I, ActPtr<const T> gu, ActPtr<const T> dact, ActPtr<T> dgu) {
    visit_act(gu, [&](auto* g) {
      visit_act(dact, [&](auto* da) { visit_act(dgu, [&](auto* d) { swiglu_backward_rows(rows, I, g, da, d); }); });
    });
  }
};

}  // namespace mixln::cpu
