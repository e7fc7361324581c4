// mixln/schedule/backend_concept.hpp — what a backend must offer the engine, as concepts, and
// a check that names the missing group of ops.
//
// A backend is a tag type (cpu::Backend<float>, cuda::Backend) whose static functions take
// pointers into its own memory. Groups:
//   types      scalar, buffer<U>, name, host_memory, precisions (mixln/precision.hpp); optional
//              `static constexpr bool bf16_activations`: under --precision bf16 its ops read and
//              write the ActPtr tensors of ActivationType::gemm slots in bf16 (act_ptr.hpp)
//   memory     zero, synchronize, copy_to_host, copy_to_device, stage, describe
//   dense ops  MIXLN_BACKEND_DENSE_OPS (backend_ops.hpp): embedding, linear, RoPE, attention,
//              SwiGLU, copy_rows, cross_entropy
//   model ops  MIXLN_BACKEND_MODEL_OPS: boundary_forward<Spec>/backward (math/boundary.hpp),
//              norm_rows_forward<Kind>/backward (math/norm_rows.hpp), map_forward<Op>/backward
//              (elementwise activations of user branches)
//   optimizer  MIXLN_BACKEND_OPTIMIZER_OPS: adam_update (every chunk in one call), sum_squares,
//              clip_to_norm
// The op groups follow from the lists in backend_ops.hpp: a backend has each op with exactly
// the listed signature (T its scalar), a model-dependent one for a probe type.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../backend_ops.hpp"
#include "../math/adamw.hpp"
#include "../math/boundary.hpp"
#include "../math/norm_kinds.hpp"
#include "../math/norm_rows.hpp"
#include "../precision.hpp"

namespace mixln {

namespace detail {
// What the fused-op check instantiates: the Pre-LN boundary and an identity activation.
using probe_spec = BoundarySpec<true, false, false, norm_list<>, norm_list<>, norm_list<RMSNorm>>;
struct probe_op {
  template <class T>
  static T forward(T x) {
    return x;
  }
  template <class T>
  static T backward(T /*x*/, T dy) {
    return dy;
  }
};
}  // namespace detail

template <class B>
concept BackendTypes = requires {
  typename B::scalar;
  typename B::template buffer<std::int32_t>;
  { B::name } -> std::convertible_to<const char*>;
  { B::host_memory } -> std::convertible_to<bool>;
  { *std::begin(B::precisions) } -> std::convertible_to<Precision>;
};

// Whether B stores GEMM-operand activations in bf16 under --precision bf16 (false when it does
// not say).
template <class B>
inline constexpr bool backend_stores_bf16 = [] {
  if constexpr (requires { B::bf16_activations; }) return bool(B::bf16_activations);
  else return false;
}();

template <class B>
concept BackendMemory = BackendTypes<B> && requires(typename B::scalar* p, const typename B::scalar* c, std::size_t n,
                                                    typename B::template buffer<std::int32_t>& buf,
                                                    const std::int32_t* tok) {
  B::zero(p, n);
  B::zero(static_cast<double*>(nullptr), n);
  B::synchronize();
  B::copy_to_host(p, c, n);
  B::copy_to_device(p, c, n);
  { B::stage(buf, tok, n) } -> std::convertible_to<const std::int32_t*>;
  { B::describe(Precision::fp32) } -> std::convertible_to<std::string>;
};

// One requirement per listed op: Be::name converts to a pointer to a function of that signature.
// (The backend is `Be` here: the lists name parameters B, the batch.)
#define MIXLN_REQUIRE_OP(R, name, params) &&requires { static_cast<R(*) params>(&Be::name); }
#define MIXLN_REQUIRE_MODEL_OP(P, name, params) &&requires { static_cast<void(*) params>(&Be::template name<P>); }

namespace detail {
template <class Be, class T>
concept DenseOpsOf = true MIXLN_BACKEND_DENSE_OPS(MIXLN_REQUIRE_OP);
template <class Be, class T, class Spec, class Kind, class Op>
concept ModelOpsOf = true MIXLN_BACKEND_MODEL_OPS(MIXLN_REQUIRE_MODEL_OP);
template <class Be, class T>
concept OptimizerOpsOf = true MIXLN_BACKEND_OPTIMIZER_OPS(MIXLN_REQUIRE_OP);
}  // namespace detail

#undef MIXLN_REQUIRE_OP
#undef MIXLN_REQUIRE_MODEL_OP

template <class B>
concept BackendDenseOps = BackendTypes<B> && detail::DenseOpsOf<B, typename B::scalar>;

// The model-dependent ops, instantiated for the Pre-LN boundary, RMSNorm and an identity map.
template <class B>
concept BackendFusedOps =
    BackendTypes<B> && detail::ModelOpsOf<B, typename B::scalar, detail::probe_spec, RMSNorm, detail::probe_op>;

template <class B>
concept BackendOptimizerOps = BackendTypes<B> && detail::OptimizerOpsOf<B, typename B::scalar>;

template <class B>
concept Backend = BackendMemory<B> && BackendDenseOps<B> && BackendFusedOps<B> && BackendOptimizerOps<B>;

template <class B>
struct check_backend {
  static_assert(BackendTypes<B>,
                "Engine: the backend must define `using scalar`, `template <class U> using buffer`, "
                "`static constexpr const char* name`, `static constexpr bool host_memory` and "
                "`static constexpr ... precisions` (see cpu/backend.hpp)");
  static_assert(!BackendTypes<B> || BackendMemory<B>,
                "Engine: the backend lacks a memory op: zero, synchronize, copy_to_host, "
                "copy_to_device, stage or describe (see schedule/backend_concept.hpp)");
  static_assert(!BackendTypes<B> || BackendDenseOps<B>,
                "Engine: the backend lacks a dense op: embedding_forward/backward, "
                "linear_forward/backward, rope_tables, rope, attention_forward/backward, "
                "swiglu_forward/backward, copy_rows or cross_entropy, with the signature "
                "MIXLN_BACKEND_DENSE_OPS gives (see backend_ops.hpp)");
  static_assert(!BackendTypes<B> || BackendFusedOps<B>,
                "Engine: the backend lacks a fused op template: boundary_forward<Spec>/"
                "boundary_backward<Spec>, norm_rows_forward<Kind>/norm_rows_backward<Kind> or "
                "map_forward<Op>/map_backward<Op>, with the signature MIXLN_BACKEND_MODEL_OPS gives "
                "(see backend_ops.hpp)");
  static_assert(!BackendTypes<B> || BackendOptimizerOps<B>,
                "Engine: the backend lacks an optimizer op: adam_update, sum_squares or clip_to_norm, with the "
                "signature MIXLN_BACKEND_OPTIMIZER_OPS gives (see backend_ops.hpp)");
  static constexpr bool value = Backend<B>;
};

}  // namespace mixln
