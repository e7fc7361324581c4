// mixln/cpu/mlp.hpp — the SwiGLU gate over [rows, I], on the CPU.
//
//   gu  [rows, 2I]  gate | up, the output of one [2I, C] GEMM
//   act [rows, I]   silu(gate) · up
// Each tensor is T or, under --precision bf16, bf16 (act_ptr.hpp); the arithmetic is in T (fp32
// for bf16 tensors), each result rounded once as it is stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../math/half.hpp"
#include "../math/swiglu.hpp"
#include "act_visit.hpp"
#include "aligned_scratch.hpp"
#include "gemm_bf16.hpp"

namespace mixln::cpu {

// A row of n values as fp32: the row itself when it is fp32, else widened into tmp.
template <class E>
const float* widen_row(int n, const E* x, float* tmp) {
  if constexpr (std::is_same_v<E, float>) {
    return x;
  } else {
    for (int j = 0; j < n; ++j) tmp[j] = to_float(x[j]);
    return tmp;
  }
}
// Where a row of fp32 results for out goes: out itself when it is fp32, else tmp, which
// store_row then rounds into out.
template <class E>
float* result_row(E* out, float* tmp) {
  if constexpr (std::is_same_v<E, float>) return out;
  else return tmp;
}
template <class E>
void store_row(int n, const float* v, E* out) {
  if constexpr (!std::is_same_v<E, float>) round_row_to_bf16(n, v, reinterpret_cast<std::uint16_t*>(out));
}

// Element types G, A are T, or (for T = float) bf16: a bf16 row is widened into fp32 scratch,
// computed by the same loop, and rounded back in one vectorised pass.
template <class G, class A>
void swiglu_forward_rows(int rows, int I, const G* gu, A* act) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    if constexpr (std::is_same_v<G, A> && !std::is_same_v<G, bf16_t>) {  // all T
      const G* g = gu + std::size_t(r) * 2 * I;
      const G* u = g + I;
      A* a = act + std::size_t(r) * I;
      for (int j = 0; j < I; ++j) a[j] = swiglu(g[j], u[j]);
    } else {
      float* tmp = scratch<float>(1, std::size_t(3) * I);
      const float* gw = widen_row(2 * I, gu + std::size_t(r) * 2 * I, tmp);
      const float *g = gw, *u = gw + I;
      float* a = result_row(act + std::size_t(r) * I, tmp + 2 * I);
      for (int j = 0; j < I; ++j) a[j] = swiglu(g[j], u[j]);
      store_row(I, a, act + std::size_t(r) * I);
    }
  }
}

template <class G, class A, class D>
void swiglu_backward_rows(int rows, int I, const G* gu, const A* dact, D* dgu) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    if constexpr (std::is_same_v<G, A> && std::is_same_v<A, D> && !std::is_same_v<G, bf16_t>) {  // all T
      const G* g = gu + std::size_t(r) * 2 * I;
      const G* u = g + I;
      const A* da = dact + std::size_t(r) * I;
      D* dg = dgu + std::size_t(r) * 2 * I;
      D* du = dg + I;
      for (int j = 0; j < I; ++j) mixln::swiglu_backward(g[j], u[j], da[j], dg[j], du[j]);
    } else {
      float* tmp = scratch<float>(1, std::size_t(5) * I);
      const float* gw = widen_row(2 * I, gu + std::size_t(r) * 2 * I, tmp);
      const float* da = widen_row(I, dact + std::size_t(r) * I, tmp + 2 * I);
      const float *g = gw, *u = gw + I;
      float* dg = result_row(dgu + std::size_t(r) * 2 * I, tmp + 3 * I);
      float* du = dg + I;
      for (int j = 0; j < I; ++j) mixln::swiglu_backward(g[j], u[j], da[j], dg[j], du[j]);
      store_row(2 * I, dg, dgu + std::size_t(r) * 2 * I);
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
