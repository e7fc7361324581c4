// mixln/schedule/head_loss.hpp — lm_head and the loss over the arena's slots: what the engine
// runs after the walk's forward pass and before its backward (schedule/engine.hpp), and what the
// traffic model counts (schedule/traffic.hpp), one code for both.
//
// fp32 logits are computed whole and the loss runs on them in place. bf16 logits (under
// --precision bf16 where the backend stores it: arena.hpp) hold only the result: the loss is
// computed from the fp32 logits of head_chunk_rows rows at a time (`head.logits_chunk`), with
// lm_head's weight rounded to bf16 once (`head.weight_bf16`), which the head's backward uses too.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../act_ptr.hpp"
#include "../precision.hpp"
#include "arena.hpp"

namespace mixln {

// lm_head's weight as the head GEMMs take it: its bf16 copy where the plan has one, else head.
template <class T, class Net>
ActPtr<const T> head_weight(const ArenaSlots<Net>& sl, const ActivationPlan& plan, unsigned char* arena,
                            const T* head) {
  if (sl.head_weight16 < 0) return head;
  return slot_act<const T>(arena, plan, sl.head_weight16);
}

// logits = x · headᵀ over R rows of x [R, C], then the loss: its sum added to *loss_sum, the row
// losses to `row_loss`, and with `grad` its gradient (÷ divisor) in the logits slot (else the
// logits).
template <class Backend, class Net, class T>
void head_loss_forward(Precision p, const ArenaSlots<Net>& sl, const ActivationPlan& plan, unsigned char* arena, int R,
                       const T* x, const T* head, const std::int32_t* labels, int divisor, bool grad, T* row_loss,
                       double* loss_sum) {
  constexpr int V = int(Net::config::vocab_size), C = int(Net::config::hidden_size);
  const ActPtr<T> logits = slot_act<T>(arena, plan, sl.logits);
  if (sl.head_chunk < 0) {
    Backend::linear_forward(p, R, V, C, x, head, logits);
    Backend::cross_entropy(R, V, logits, labels, divisor, grad, logits, row_loss, loss_sum);
    return;
  }
  T* chunk = slot_act<T>(arena, plan, sl.head_chunk).scalar();
  Backend::round_to_bf16(std::size_t(V) * C, head, slot_act<T>(arena, plan, sl.head_weight16).bf16());
  const ActPtr<const T> w = head_weight(sl, plan, arena, head);
  for (int r0 = 0; r0 < R; r0 += sl.head_chunk_rows) {
    const int rows = std::min(sl.head_chunk_rows, R - r0);
    Backend::linear_forward(p, rows, V, C, x + std::size_t(r0) * C, w, chunk);
    Backend::cross_entropy(rows, V, chunk, labels + r0, divisor, grad, logits + std::ptrdiff_t(r0) * V, row_loss + r0,
                           loss_sum);
  }
}

// The head's backward from the logits' gradient: dx [R, C] (=), dhead (+=).
template <class Backend, class Net, class T>
void head_loss_backward(Precision p, const ArenaSlots<Net>& sl, const ActivationPlan& plan, unsigned char* arena,
                        int R, const T* x, const T* head, T* dx, T* dhead) {
  constexpr int V = int(Net::config::vocab_size), C = int(Net::config::hidden_size);
  Backend::linear_backward(p, R, V, C, slot_act<T>(arena, plan, sl.logits), x, head_weight(sl, plan, arena, head), dx,
                           dhead);
}

}  // namespace mixln
