// mixln/schedule/traffic.hpp — a model of the bytes one training micro-step moves outside the
// GEMMs, by kernel class, derived from the model type, the batch, the precision and the device
// (what `info` prints; tests/test_bf16_activations.cpp pins it, so that a change that adds
// bytes — a slot that goes back to fp32, a conversion kernel more — shows without a GPU).
//
// The model runs the step's own walk (schedule/walker.hpp) on TrafficBackend, whose ops move
// nothing and instead count, from their arguments, what they must read and write: every tensor
// an op is given, once, in its element type (act_ptr.hpp), as a fused kernel at memory speed
// would. The GEMMs count only what surrounds them: the bf16 copies of their inputs —
//   cpu   under bf16, each fp32 operand rounded into a bf16 copy (read 4 bytes, write 2); a bf16
//         activation is read where it is;
//   cuda  under bf16, every operand converted (the backend stores fp32 activations): x and W, and
//         dy once for dx and once more for dW.
// Then the head and the loss (the engine's code: whole, or in chunks of fp32 logits) and
// the optimizer step (gradients zeroed, their squared norm, AdamW: 28 bytes a parameter).
// What it leaves out: caches (a tensor re-read while still in cache counts again), the key/value
// re-reads inside attention, and the scratch of the backward branches' own temporaries.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <type_traits>

#include "../act_ptr.hpp"
#include "../backend_ops.hpp"
#include "../precision.hpp"
#include "arena.hpp"
#include "head_loss.hpp"
#include "param_layout.hpp"
#include "walker.hpp"

namespace mixln {

enum class TrafficDevice { cpu, cuda };

// Bytes read and written per kernel class.
struct Traffic {
  std::map<std::string, double> bytes;
  double total() const {
    double t = 0;
    for (auto& [k, v] : bytes) t += v;
    return t;
  }
};

namespace detail {
struct TrafficCount {
  Traffic* out = nullptr;
  TrafficDevice device = TrafficDevice::cpu;
  void add(const char* c, double b) { out->bytes[c] += b; }
};
inline TrafficCount& traffic_count() {
  thread_local TrafficCount c;
  return c;
}
template <class U>
double elem_bytes(ActPtr<U> p) {
  return p.is_bf16() ? 2.0 : double(sizeof(std::remove_const_t<U>));
}
}  // namespace detail

// The ops of backend_ops.hpp, counting bytes (fp32 scalar; nothing is read or written).
// (The walker needs `scalar` and the ops; the engine's other requirements do not apply.)
struct TrafficBackend {
  using scalar = float;
  using T = float;

  static void add(const char* cls, double b) { detail::traffic_count().add(cls, b); }
  static bool cuda() { return detail::traffic_count().device == TrafficDevice::cuda; }

  template <class U>
  static void zero(U*, std::size_t n) { add("zeroing", double(n) * sizeof(U)); }

  static void embedding_forward(int rows, int C, const std::int32_t*, const T*, T*) {
    add("embedding", rows * 4.0 + 2.0 * rows * C * 4);
  }
  static void embedding_backward(int rows, int C, const std::int32_t*, const T*, T*) {
    add("embedding", rows * 4.0 + 3.0 * rows * C * 4);  // dout read, table rows read and written
  }
  static void copy_rows(int rows, int n, RowsView<const T>, RowsView<T>) {
    add("norms inside branches", 2.0 * rows * n * 4);  // the rows an attention norm leaves as they are
  }

  // The bf16 copy of a GEMM operand of `elems` values (0 where none is made).
  static double operand_copy(Precision p, double elems, bool stored_bf16) {
    if (p != Precision::bf16) return 0;
    if (cuda()) return 6.0 * elems;  // fp32 read, bf16 written: every operand
    return stored_bf16 ? 0.0 : 6.0 * elems;
  }
  static void linear_forward(Precision p, int M, int N, int K, ActPtr<const T> x, ActPtr<const T> W, ActPtr<T> y) {
    // a bf16 output on the CPU comes out of the GEMM itself; nothing to count
    (void)y;
    add("bf16 copies of GEMM inputs",
        operand_copy(p, double(M) * K, x.is_bf16()) + operand_copy(p, double(N) * K, W.is_bf16()));
  }
  static void linear_backward(Precision p, int M, int N, int K, ActPtr<const T> dy, ActPtr<const T> x,
                              ActPtr<const T> W, ActPtr<T>, T*) {
    const double dy_copies = cuda() ? 2 : 1;  // CUDA converts dy for dx and again for dW
    add("bf16 copies of GEMM inputs", dy_copies * operand_copy(p, double(M) * N, dy.is_bf16()) +
                                          operand_copy(p, double(N) * K, W.is_bf16()) +
                                          operand_copy(p, double(M) * K, x.is_bf16()));
  }
  static void patchify(int B, int height, int width, int channels, int, const float*, T*) {
    add("patches", 2.0 * B * height * width * channels * sizeof(T));
  }
  static void bias_forward(int rows, int n, const T*, T*) { add("bias", 2.0 * rows * n * sizeof(T) + n * sizeof(T)); }
  static void bias_backward(int rows, int n, const T*, T*) { add("bias", double(rows) * n * sizeof(T) + 2.0 * n * sizeof(T)); }
  static void round_to_bf16(std::size_t n, const T*, bf16_t*) { add("bf16 copies of GEMM inputs", 6.0 * double(n)); }
  static void rope_tables(int, int, T*, T*) {}
  static void rope(bool, int B, int seq, int H, int D, ActPtr<T> qkv, const T*, const T*) {
    add("rope", 2.0 * B * seq * 2 * H * D * detail::elem_bytes(qkv));  // q and k, read and written
  }
  static void attention_forward(Precision, AttentionMask, int B, int seq, int H, int D, ActPtr<const T> qkv, T*,
                                ActPtr<T> out) {
    const double R = double(B) * seq, C = double(H) * D;
    add("attention (outside its products)",
        R * 3 * C * detail::elem_bytes(qkv) + R * C * detail::elem_bytes(out) + R * H * 2 * 4);
  }
  static void attention_backward(Precision, AttentionMask, int B, int seq, int H, int D, ActPtr<const T> qkv,
                                 ActPtr<const T> out, const T*, ActPtr<const T> dout, T*, ActPtr<T> dqkv) {
    const double R = double(B) * seq, C = double(H) * D;
    add("attention (outside its products)",
        R * 3 * C * (detail::elem_bytes(qkv) + detail::elem_bytes(dqkv)) +
            R * C * (detail::elem_bytes(out) + detail::elem_bytes(dout)) + R * H * (2 + 2) * 4);  // stats, delta
  }
  static void swiglu_forward(int rows, int I, ActPtr<const T> gu, ActPtr<T> act) {
    add("swiglu", double(rows) * I * (2 * detail::elem_bytes(gu) + detail::elem_bytes(act)));
  }
  static void swiglu_backward(int rows, int I, ActPtr<const T> gu, ActPtr<const T> dact, ActPtr<T> dgu) {
    add("swiglu", double(rows) * I *
                      (2 * detail::elem_bytes(gu) + detail::elem_bytes(dact) + 2 * detail::elem_bytes(dgu)));
  }
  static void cross_entropy(int rows, int V, ActPtr<const T> logits, const std::int32_t*, int, bool,
                            ActPtr<T> out, T*, double*) {
    add("head and loss", double(rows) * V * (detail::elem_bytes(logits) + detail::elem_bytes(out)) + rows * 8.0);
  }

  template <class Spec>
  static void boundary_forward(int rows, int n, const BoundaryArgs<Spec, T>& b) {
    double tensors = (b.x != nullptr) + (b.f != nullptr && b.f != b.y) + (b.x0 != nullptr) + 1 /* y */ +
                     (b.h != nullptr && b.h != b.y);
    for (int i = 0; i < Spec::num_norms; ++i)  // a norm input of its own (s, inside a chain)
      tensors += b.in[i] != nullptr && b.in[i] != b.f && b.in[i] != b.y;
    add("boundaries", tensors * rows * n * 4 + double(rows) * Spec::num_stats * 4);
  }
  template <class Spec>
  static void boundary_backward(int rows, int n, const BoundaryArgs<Spec, T>& b, const BoundaryGradArgs<Spec, T>& g) {
    double tensors = 1 /* dy */ + (Spec::skip_grad_in ? 1 : 0) + (Spec::ns > 0 ? 1 : 0) /* dh */ +
                     (Spec::residual ? 1 : 0) /* dx */ + (Spec::skip ? 1 : 0) /* dskip */ + 1 /* df */;
    for (int i = 0; i < Spec::num_norms; ++i) tensors += b.in[i] != nullptr;  // every norm's input, re-read
    (void)g;
    add("boundaries", tensors * rows * n * 4 + double(rows) * Spec::num_stats * 4);
  }
  template <class Kind>
  static void norm_rows_forward(int rows, int n, RowsView<const T>, RowsView<T>, T* const*, T*) {
    add("norms inside branches", 2.0 * rows * n * 4 + rows * 8.0);
  }
  template <class Kind>
  static void norm_rows_backward(int rows, int n, RowsView<const T>, const T*, T* const*, RowsView<const T>,
                                 RowsView<T>, T* const*, T*) {
    add("norms inside branches", 3.0 * rows * n * 4 + rows * 8.0);
  }
  template <class Op>
  static void map_forward(std::size_t n, const T*, T*) { add("elementwise maps", 2.0 * n * 4); }
  template <class Op>
  static void map_backward(std::size_t n, const T*, const T*, T*) { add("elementwise maps", 3.0 * n * 4); }
};

// The model for one micro-step of Net at [B, T] with backward, and the optimizer step after it.
// bf16_slots: whether the device stores ActivationType::gemm slots in bf16 under bf16.
template <class Net>
Traffic non_gemm_traffic(int B, int Tn, Precision p, TrafficDevice device, bool bf16_slots) {
  Traffic t;
  auto& count = detail::traffic_count();
  count = {&t, device};
  const ParamLayout layout = make_param_layout<Net>();
  ArenaSlots<Net> sl;
  const ActivationPlan plan = plan_activations<Net>(B, Tn, ArenaTypes{4, p == Precision::bf16 && bf16_slots}, &sl);
  // Addresses only: TrafficBackend reads and writes nothing through them.
  auto* arena = reinterpret_cast<unsigned char*>(std::uintptr_t(1) << 20);
  auto* params = reinterpret_cast<float*>(std::uintptr_t(1) << 44);
  auto* grads = reinterpret_cast<float*>(std::uintptr_t(1) << 45);
  Walker<Net, TrafficBackend> w(layout, p);
  w.bind(sl, plan, arena, params, grads, B, Tn);
  const int R = B * Tn;
  w.forward(static_cast<const typename Net::input::input_type*>(nullptr));
  // the head and the loss, by the engine's own code (schedule/head_loss.hpp)
  const float* head = params + layout.head;
  float* row_loss = slot_act<float>(arena, plan, sl.row_loss).scalar();
  const auto* labels = reinterpret_cast<const std::int32_t*>(std::uintptr_t(1) << 46);
  if constexpr (is_lm_head_v<typename Net::head>) {
    head_loss_forward<TrafficBackend, Net>(p, sl, plan, arena, R, w.final_input(), head, labels, 1, true, row_loss,
                                           nullptr);
    head_loss_backward<TrafficBackend, Net>(p, sl, plan, arena, R, w.final_input(), head, w.grad_h(),
                                            grads + layout.head);
  } else {  // another head: its own passes, its activations at their slots (addresses only)
    std::vector<float*> hw;
    for (std::size_t off : layout.head_weights) hw.push_back(params + off);
    std::vector<ActPtr<float>> act;
    bind_declared(act, sl.head, plan, arena, sl.scratch >= 0 ? arena + plan.slots[std::size_t(sl.scratch)].offset : nullptr);
    HeadIO<float> io;
    io.batch = B, io.seq = Tn, io.x = w.final_input(), io.dx = w.grad_h(), io.labels = labels, io.grad_divisor = 1;
    io.grad = true, io.row_loss = row_loss, io.w = hw.data(), io.dw = hw.data(), io.act = act.data(), io.precision = p;
    Net::head::template forward<TrafficBackend>(io);
    Net::head::template backward<TrafficBackend>(io);
  }
  w.backward();
  // the optimizer step: gradients zeroed for the next, their squared norm, AdamW
  const double P = double(layout.total);
  t.bytes["optimizer"] += P * 4 /* zero */ + P * 4 /* norm */ + P * 7 * 4 /* p, g, m, v read; p, m, v written */;
  count = {};
  return t;
}

}  // namespace mixln
