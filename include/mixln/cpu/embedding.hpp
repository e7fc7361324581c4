// mixln/cpu/embedding.hpp — token embedding lookup and its gradient, on the CPU.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace mixln::cpu {

// out[r, :] = table[tokens[r], :]
template <class T>
void embedding_forward(int rows, int C, const std::int32_t* tokens, const T* table, T* out) {
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    const T* src = table + std::size_t(tokens[r]) * C;
    std::copy(src, src + C, out + std::size_t(r) * C);
  }
}

// dtable[tokens[r], :] += dout[r, :]. Threads own column ranges and walk rows in order, so
// repeated tokens accumulate in a fixed order whatever the thread count.
template <class T>
void embedding_backward(int rows, int C, const std::int32_t* tokens, const T* dout, T* dtable) {
  constexpr int kCols = 16;
  const int blocks = (C + kCols - 1) / kCols;
#pragma omp parallel for schedule(static)
  for (int cb = 0; cb < blocks; ++cb) {
    const int j0 = cb * kCols, j1 = std::min(C, j0 + kCols);
    for (int r = 0; r < rows; ++r) {
      T* dst = dtable + std::size_t(tokens[r]) * C;
      const T* src = dout + std::size_t(r) * C;
      for (int j = j0; j < j1; ++j) dst[j] += src[j];
    }
  }
}

}  // namespace mixln::cpu
