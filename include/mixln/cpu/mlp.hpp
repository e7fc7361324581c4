// mixln/cpu/mlp.hpp — the SwiGLU gate over [rows, I], on the CPU.
//
//   gu  [rows, 2I]  gate | up, the output of one [2I, C] GEMM
//   act [rows, I]   silu(gate) · up
#pragma once

#include <cstddef>

#include "../math/swiglu.hpp"

namespace mixln::cpu {

// The op family of cpu::Backend<T> (backend_ops.hpp).
template <class T>
struct SwigluOps {
  static void swiglu_forward(int rows, int I, const T* gu, T* act) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const T* g = gu + std::size_t(r) * 2 * I;
      const T* u = g + I;
      T* a = act + std::size_t(r) * I;
      for (int j = 0; j < I; ++j) a[j] = swiglu(g[j], u[j]);
    }
  }

  // dgu [rows, 2I] (=) from dact [rows, I].
  static void swiglu_backward(int rows, int I, const T* gu, const T* dact, T* dgu) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const T* g = gu + std::size_t(r) * 2 * I;
      const T* u = g + I;
      const T* da = dact + std::size_t(r) * I;
      T* dg = dgu + std::size_t(r) * 2 * I;
      T* du = dg + I;
      for (int j = 0; j < I; ++j) mixln::swiglu_backward(g[j], u[j], da[j], dg[j], du[j]);
    }
  }
};

}  // namespace mixln::cpu
