// mixln/cpu/embedding.hpp — token embedding lookup and its gradient, on the CPU.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mixln::cpu {

// The op family of cpu::Backend<T> (backend_ops.hpp): the kernels are its static members.
template <class T>
struct EmbeddingOps {
  // out[r, :] = table[tokens[r], :]
  static void embedding_forward(int rows, int C, const std::int32_t* tokens, const T* table, T* out) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      const T* src = table + std::size_t(tokens[r]) * C;
      std::copy(src, src + C, out + std::size_t(r) * C);
    }
  }

  // dtable[tokens[r], :] += dout[r, :]. The rows are grouped by token (a stable counting sort),
  // then each token's rows are added in row order by one thread: parallel, cache-friendly, and
  // the same result whatever the thread count.
  static void embedding_backward(int rows, int C, const std::int32_t* tokens, const T* dout, T* dtable) {
    std::int32_t vocab = 0;
    for (int r = 0; r < rows; ++r) vocab = std::max(vocab, tokens[r] + 1);
    std::vector<int> start(std::size_t(vocab) + 1, 0);
    std::vector<int> order(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) ++start[std::size_t(tokens[r]) + 1];
    for (std::int32_t v = 0; v < vocab; ++v) start[std::size_t(v) + 1] += start[std::size_t(v)];
    std::vector<int> fill(start.begin(), start.end() - 1);
    for (int r = 0; r < rows; ++r) order[std::size_t(fill[std::size_t(tokens[r])]++)] = r;
#pragma omp parallel for schedule(dynamic, 64)
    for (std::int32_t v = 0; v < vocab; ++v) {
      T* dst = dtable + std::size_t(v) * C;
      for (int k = start[std::size_t(v)]; k < start[std::size_t(v) + 1]; ++k) {
        const T* src = dout + std::size_t(order[std::size_t(k)]) * C;
#pragma omp simd
        for (int j = 0; j < C; ++j) dst[j] += src[j];
      }
    }
  }
};

}  // namespace mixln::cpu
