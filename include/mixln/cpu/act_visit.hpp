// mixln/cpu/act_visit.hpp — calling a kernel with an activation's pointer in its own element type.
//
//   visit_act(p, [&](auto* x) { ... })   x is a T* (or const T*), or a bf16_t* where p holds bf16
//
// Kernels written over element types E read with to_float(x[i]) and write with
// from_float<E>(v) (math/half.hpp); with E = T both are the identity, so a T tensor gives the
// same bits as a kernel written for T alone. bf16 exists beside float only: for T = double the
// visitor is called with T* alone.
#pragma once

#include <type_traits>

#include "../act_ptr.hpp"

namespace mixln::cpu {

template <class T, class F>
decltype(auto) visit_act(ActPtr<T> p, F&& f) {
  if constexpr (std::is_same_v<std::remove_const_t<T>, float>)
    if (p.is_bf16()) return f(p.bf16());
  return f(p.scalar());
}

}  // namespace mixln::cpu
