// mixln/cpu/cross_entropy.hpp — mean token cross-entropy over [rows, V] logits, on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../config.hpp"
#include "../math/cross_entropy.hpp"
#include "../math/row.hpp"

namespace mixln::cpu {

inline int count_labels(int rows, const std::int32_t* labels) {
  int n = 0;
  for (int r = 0; r < rows; ++r) n += labels[r] != kIgnoreIndex;
  return n;
}

// Adds the sum of the row losses (accumulated in double, in row order) to *loss_sum. With
// `grad`, the logits are replaced by d(sum of row losses / grad_divisor)/d(logits).
template <class T>
struct CrossEntropyOps {
  static void cross_entropy(int rows, int V, T* logits, const std::int32_t* labels, int grad_divisor, bool grad,
                            T* row_loss /* [rows] */, double* loss_sum) {
    const T scale = grad_divisor > 0 ? T(1) / T(grad_divisor) : T(0);
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      T* z = logits + std::size_t(r) * V;
      row_loss[r] = grad ? cross_entropy_row(SerialRow{V}, z, labels[r], scale)
                         : cross_entropy_loss_row(SerialRow{V}, z, labels[r]);
    }
    double total = 0;
    for (int r = 0; r < rows; ++r) total += double(row_loss[r]);
    *loss_sum += total;
  }
};

}  // namespace mixln::cpu
