// mixln/schedule/backend_concept.hpp — what a backend must offer the engine, as concepts, and
// a check that names the missing group of ops.
//
// A backend is a tag type (cpu::Backend<float>, cuda::Backend) whose static functions take
// pointers into its own memory. Groups:
//   types      scalar, buffer<U>, name, host_memory
//   memory     zero, synchronize, copy_to_host, copy_to_device, stage
//   dense ops  embedding_forward/backward, linear_forward/backward, rope_tables, rope<bool>,
//              attention_forward/backward, swiglu_forward/backward, copy_rows, cross_entropy
//   fused ops  boundary_forward<Spec>/boundary_backward<Spec> (math/boundary.hpp),
//              norm_rows_forward<Kind>/norm_rows_backward<Kind> (math/norm_rows.hpp),
//              map_forward<Op>/map_backward<Op> (elementwise activations of user branches)
//   optimizer  adam_update, sum_squares, scale
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "../math/adamw.hpp"
#include "../math/boundary.hpp"
#include "../math/norm_kinds.hpp"
#include "../math/norm_rows.hpp"

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
};

template <class B>
concept BackendMemory = BackendTypes<B> && requires(typename B::scalar* p, const typename B::scalar* c, std::size_t n,
                                                    typename B::template buffer<std::int32_t>& buf,
                                                    const std::int32_t* tok) {
  B::zero(p, n);
  B::synchronize();
  B::copy_to_host(p, c, n);
  B::copy_to_device(p, c, n);
  { B::stage(buf, tok, n) } -> std::convertible_to<const std::int32_t*>;
  { B::describe() } -> std::convertible_to<std::string>;
};

template <class B>
concept BackendDenseOps = BackendTypes<B> && requires(typename B::scalar* p, const typename B::scalar* c, int i,
                                                      const std::int32_t* tok, RowsView<const typename B::scalar> rc,
                                                      RowsView<typename B::scalar> r) {
  B::embedding_forward(i, i, tok, c, p);
  B::embedding_backward(i, i, tok, c, p);
  B::linear_forward(i, i, i, c, c, p);
  B::linear_backward(i, i, i, c, c, c, p, p);
  B::rope_tables(i, i, p, p);
  B::template rope<false>(i, i, i, i, p, c, c);
  B::attention_forward(i, i, i, i, c, p, p);
  B::attention_backward(i, i, i, i, c, c, c, p, p);
  B::swiglu_forward(i, i, c, p);
  B::swiglu_backward(i, i, c, c, p);
  B::copy_rows(i, i, rc, r);
  { B::cross_entropy(i, i, p, tok, i, true, p) } -> std::convertible_to<double>;
};

template <class B>
concept BackendFusedOps =
    BackendTypes<B> && requires(int i, typename B::scalar* p, const typename B::scalar* c, typename B::scalar* const* pp,
                                RowsView<const typename B::scalar> rc, RowsView<typename B::scalar> r,
                                const BoundaryArgs<detail::probe_spec, typename B::scalar>& args,
                                const BoundaryGradArgs<detail::probe_spec, typename B::scalar>& grad) {
      B::template boundary_forward<detail::probe_spec>(i, i, args);
      B::template boundary_backward<detail::probe_spec>(i, i, args, grad);
      B::template norm_rows_forward<RMSNorm>(i, i, rc, r, pp, p);
      B::template norm_rows_backward<RMSNorm>(i, i, rc, c, pp, rc, r, pp, p);
      B::template map_forward<detail::probe_op>(std::size_t(i), c, p);
      B::template map_backward<detail::probe_op>(std::size_t(i), c, c, p);
    };

template <class B>
concept BackendOptimizerOps =
    BackendTypes<B> && requires(typename B::scalar* p, const typename B::scalar* c, std::size_t n, const AdamHyper& h) {
      B::adam_update(p, c, p, p, n, h, true);
      { B::sum_squares(c, n) } -> std::convertible_to<double>;
      B::scale(p, n, typename B::scalar(1));
    };

template <class B>
concept Backend = BackendMemory<B> && BackendDenseOps<B> && BackendFusedOps<B> && BackendOptimizerOps<B>;

template <class B>
struct check_backend {
  static_assert(BackendTypes<B>,
                "Engine: the backend must define `using scalar`, `template <class U> using buffer`, "
                "`static constexpr const char* name` and `static constexpr bool host_memory` "
                "(see cpu/backend.hpp)");
  static_assert(!BackendTypes<B> || BackendMemory<B>,
                "Engine: the backend lacks a memory op: zero, synchronize, copy_to_host, "
                "copy_to_device, stage or describe (see schedule/backend_concept.hpp)");
  static_assert(!BackendTypes<B> || BackendDenseOps<B>,
                "Engine: the backend lacks a dense op: embedding_forward/backward, "
                "linear_forward/backward, rope_tables, rope<bool>, attention_forward/backward, "
                "swiglu_forward/backward, copy_rows or cross_entropy (see schedule/backend_concept.hpp)");
  static_assert(!BackendTypes<B> || BackendFusedOps<B>,
                "Engine: the backend lacks a fused op template: boundary_forward<Spec>/"
                "boundary_backward<Spec>, norm_rows_forward<Kind>/norm_rows_backward<Kind> or "
                "map_forward<Op>/map_backward<Op> (see schedule/backend_concept.hpp)");
  static_assert(!BackendTypes<B> || BackendOptimizerOps<B>,
                "Engine: the backend lacks an optimizer op: adam_update, sum_squares or scale");
  static constexpr bool value = Backend<B>;
};

}  // namespace mixln
