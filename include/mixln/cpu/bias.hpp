// mixln/cpu/bias.hpp — the bias of a linear layer over [rows, n], and the patches of a ViT's
// patch embedding, on the CPU.
//
//   bias_forward    y[r, j] += b[j]
//   bias_backward   db[j] += Σ_r dy[r, j]   (rows in order: the same sum on any thread count)
//   patchify        images [B, H, W, c] → patches [B·(H/P)(W/P), c·P·P]   (math/patches.hpp)
#pragma once

#include <algorithm>
#include <cstddef>

#include "../math/patches.hpp"

namespace mixln::cpu {

// The op family of cpu::Backend<T> (backend_ops.hpp).
template <class T>
struct BiasOps {
  static void patchify(int B, int height, int width, int channels, int patch, const float* images, T* patches) {
    const std::size_t cols = std::size_t(channels) * patch * patch;
    const long long rows = (long long)B * (height / patch) * (width / patch);
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r)
      for (std::size_t q = 0; q < cols; ++q) {
        const std::size_t e = std::size_t(r) * cols + q;
        patches[e] = T(images[patch_source(e, height, width, channels, patch)]);
      }
  }

  static void bias_forward(int rows, int n, const T* b, T* y) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      T* yr = y + std::size_t(r) * n;
      for (int j = 0; j < n; ++j) yr[j] += b[j];
    }
  }

  // Columns in chunks of kColumns, one chunk per task; within a chunk the rows are added in order.
  static void bias_backward(int rows, int n, const T* dy, T* db) {
    constexpr int kColumns = 64;
    const int chunks = (n + kColumns - 1) / kColumns;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < chunks; ++c) {
      const int j0 = c * kColumns, j1 = std::min(n, j0 + kColumns);
      T acc[kColumns] = {};
      for (int r = 0; r < rows; ++r) {
        const T* dr = dy + std::size_t(r) * n;
        for (int j = j0; j < j1; ++j) acc[j - j0] += dr[j];
      }
      for (int j = j0; j < j1; ++j) db[j] += acc[j - j0];
    }
  }
};

}  // namespace mixln::cpu
