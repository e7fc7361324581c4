// mixln/cpu/cross_entropy.hpp — mean token cross-entropy over [rows, V] logits, on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include <type_traits>

#include "../act_ptr.hpp"
#include "../config.hpp"
#include "../math/cross_entropy.hpp"
#include "../math/row.hpp"
#include "act_visit.hpp"
#include "aligned_scratch.hpp"
#include "gemm_bf16.hpp"

namespace mixln::cpu {

inline int count_labels(int rows, const std::int32_t* labels) {
  int n = 0;
  for (int r = 0; r < rows; ++r) n += labels[r] != kIgnoreIndex;
  return n;
}

// Adds the sum of the row losses (accumulated in double, in row order) to *loss_sum, and writes
// to `out` d(sum of row losses / grad_divisor)/d(logits) with `grad`, else the logits. In place
// (out == logits, both T) it is the row kernel on the logits themselves; otherwise each row is
// read into fp32 (bf16 widened exactly), computed there, and stored in out's type (bf16: rounded
// once).
template <class T>
struct CrossEntropyOps {
  static void cross_entropy(int rows, int V, ActPtr<const T> logits, const std::int32_t* labels, int grad_divisor,
                            bool grad, ActPtr<T> out, T* row_loss /* [rows] */, double* loss_sum) {
    const T scale = grad_divisor > 0 ? T(1) / T(grad_divisor) : T(0);
    if (!out.is_bf16() && !logits.is_bf16() && out.raw() == logits.raw()) {
      T* all = out.scalar();
#pragma omp parallel for schedule(static)
      for (int r = 0; r < rows; ++r) {
        T* z = all + std::size_t(r) * V;
        row_loss[r] = grad ? cross_entropy_row(SerialRow{V}, z, labels[r], scale)
                           : cross_entropy_loss_row(SerialRow{V}, z, labels[r]);
      }
      return add_row_losses(rows, row_loss, loss_sum);
    }
    visit_act(logits, [&](auto* in) {
      visit_act(out, [&](auto* o) {
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; ++r) {
          T* z = scratch<T>(0, std::size_t(V));
          const auto* zin = in + std::size_t(r) * V;
          for (int j = 0; j < V; ++j) z[j] = T(to_float(zin[j]));
          row_loss[r] = grad ? cross_entropy_row(SerialRow{V}, z, labels[r], scale)
                             : cross_entropy_loss_row(SerialRow{V}, z, labels[r]);
          auto* zo = o + std::size_t(r) * V;
          using E = std::remove_cvref_t<decltype(*zo)>;
          if constexpr (sizeof(E) == 2)
            round_row_to_bf16(V, z, reinterpret_cast<std::uint16_t*>(zo));
          else
            for (int j = 0; j < V; ++j) zo[j] = z[j];
        }
      });
    });
    add_row_losses(rows, row_loss, loss_sum);
  }

 private:
  static void add_row_losses(int rows, const T* row_loss, double* loss_sum) {
    double total = 0;
    for (int r = 0; r < rows; ++r) total += double(row_loss[r]);
    *loss_sum += total;
  }
};

}  // namespace mixln::cpu
