// mixln/act_ptr.hpp — a pointer to an activation tensor whose element type is chosen at run time:
// the backend's scalar T, or bf16.
//
// Under `--precision bf16` the activations that only feed GEMMs (or are only re-read by one) are
// stored in bf16 — the branches' q/k/v and attention output, SwiGLU's gate/up and product, the
// logits, and their gradients — while the residual stream, statistics and parameters stay in T
// (docs/design.md §3.5). Which slots those are is decided when the arena is planned, from the
// branch's declarations (ActivationList, dsl/branch.hpp) and the precision; the ops that touch such
// a tensor (linear_*, attention_*, rope, swiglu_*, cross_entropy: backend_ops.hpp) take an
// ActPtr and read or write it in its own type.
//
// An ActPtr converts from a T* (an activation in T, as every pointer was before) and back to T*
// when it holds one: a user branch that declares its activations without `ActivationType::gemm`
// gets T slots only and keeps passing io.act[i] where a T* is expected. Converting a bf16 ActPtr
// to T* throws: a bf16 tensor is never read as T.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "math/half.hpp"

namespace mixln {

template <class T>
class ActPtr {
  template <class>
  friend class ActPtr;
  using Void = std::conditional_t<std::is_const_v<T>, const void, void>;
  using Bf16 = std::conditional_t<std::is_const_v<T>, const bf16_t, bf16_t>;

 public:
  ActPtr() = default;
  ActPtr(T* p) : p_(p) {}                                  // NOLINT: implicit, as a T* was
  ActPtr(std::nullptr_t) {}                                 // NOLINT
  ActPtr(Bf16* p) : p_(p), bf16_(p != nullptr) {}           // NOLINT
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  ActPtr(const ActPtr<U>& o) : p_(o.p_), bf16_(o.bf16_) {}  // NOLINT: T → const T

  bool is_bf16() const { return bf16_; }
  explicit operator bool() const { return p_ != nullptr; }
  // The tensor as T (throws when it is stored in bf16).
  T* scalar() const {
    if (bf16_) throw std::logic_error("an activation stored in bf16 was used where a scalar tensor is expected");
    return static_cast<T*>(p_);
  }
  Bf16* bf16() const {
    if (!bf16_ && p_) throw std::logic_error("an activation stored in its scalar type was used as bf16");
    return static_cast<Bf16*>(p_);
  }
  operator T*() const { return scalar(); }  // NOLINT: branches written against T* keep working

  // The tensor n elements further on, in its own type.
  ActPtr operator+(std::ptrdiff_t n) const {
    ActPtr r = *this;
    if (bf16_) r.p_ = static_cast<Bf16*>(p_) + n;
    else r.p_ = static_cast<T*>(p_) + n;
    return r;
  }
  Void* raw() const { return p_; }

 private:
  Void* p_ = nullptr;
  bool bf16_ = false;
};

}  // namespace mixln
