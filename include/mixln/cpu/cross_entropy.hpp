// mixln/cpu/cross_entropy.hpp — mean token cross-entropy over [rows, V] logits, on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include <type_traits>

#include "../act_ptr.hpp"
#include "../config.hpp"
#include "../math/cross_entropy.hpp"
#include "../math/row.hpp"
#include "aligned_scratch.hpp"
#include "gemm_bf16.hpp"

namespace mixln::cpu {

inline int count_labels(int rows, const std::int32_t* labels) {
  int n = 0;
  for (int r = 0; r < rows; ++r) n += labels[r] != kIgnoreIndex;
  return n;
}

// Adds the sum of the row losses (accumulated in double, in row order) to *loss_sum. With
// `grad`, the logits are replaced by d(sum of row losses / grad_divisor)/d(logits). bf16 logits
// (act_ptr.hpp) are widened row by row into fp32, and their gradient rounded once as it is stored.
template <class T>
struct CrossEntropyOps {
  static void cross_entropy(int rows, int V, ActPtr<T> logits, const std::int32_t* labels, int grad_divisor,
                            bool grad, T* row_loss /* [rows] */, double* loss_sum) {
    const T scale = grad_divisor > 0 ? T(1) / T(grad_divisor) : T(0);
    if constexpr (std::is_same_v<T, float>)
      if (logits.is_bf16()) {
        bf16_t* all = logits.bf16();
#pragma omp parallel for schedule(static)
        for (int r = 0; r < rows; ++r) {
          bf16_t* z16 = all + std::size_t(r) * V;
          float* z = scratch<float>(0, std::size_t(V));
          for (int j = 0; j < V; ++j) z[j] = to_float(z16[j]);
          if (grad) {
            row_loss[r] = cross_entropy_row(SerialRow{V}, z, labels[r], scale);
            round_row_to_bf16(V, z, reinterpret_cast<std::uint16_t*>(z16));
          } else {
            row_loss[r] = cross_entropy_loss_row(SerialRow{V}, z, labels[r]);
          }
        }
        return add_row_losses(rows, row_loss, loss_sum);
      }
    T* all = logits.scalar();
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      T* z = all + std::size_t(r) * V;
      row_loss[r] = grad ? cross_entropy_row(SerialRow{V}, z, labels[r], scale)
                         : cross_entropy_loss_row(SerialRow{V}, z, labels[r]);
    }
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
