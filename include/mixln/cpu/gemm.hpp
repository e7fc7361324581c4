// mixln/cpu/gemm.hpp — row-major GEMM through CBLAS (OpenBLAS), in float and double.
//
//   C[M, N] = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ, leading dimensions explicit
//
// With the OpenMP build of OpenBLAS, a call made inside an OpenMP parallel region runs on the
// calling thread only, so per-head GEMMs can be issued from a parallel loop.
//
// The float GEMMs and linear ops take a Precision (mixln/precision.hpp; the trainers'
// `--precision fp32|bf16`): fp32 is sgemm; bf16 rounds both inputs to bf16 and accumulates in
// fp32 (gemm_bf16.hpp), as the CUDA backend does. The double GEMMs are always dgemm.
#pragma once

#include <cblas.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "../precision.hpp"
#include "gemm_bf16.hpp"

namespace mixln::cpu {

// OpenBLAS's pthreads build does not know about OpenMP: its threads and mixln's OpenMP
// threads fight over the cores (measured: 4.5 s instead of 0.7 s per step of small_mixln on
// 2 cores). If that build is the one loaded, keep OpenBLAS single-threaded and say so once.
inline bool check_blas_threading() {
#if defined(OPENBLAS_VERSION)
  if (openblas_get_parallel() == 1) {
    openblas_set_num_threads(1);
    std::fprintf(stderr,
                 "mixln: warning: the pthreads build of OpenBLAS is loaded; GEMMs run on one thread. "
                 "Install and link the OpenMP build (Debian: libopenblas-openmp-dev) for full speed.\n");
  }
#endif
  return true;
}
// Checks once per process, before the first GEMM.
inline void check_blas_threading_once() {
  static const bool checked = check_blas_threading();
  (void)checked;
}

inline void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  check_blas_threading_once();
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

inline void gemm(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  check_blas_threading_once();
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// The same in a precision: bf16 rounds both inputs (gemm_bf16.hpp); fp32 is sgemm. The double
// GEMM has one precision, its own.
inline void gemm(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (p == Precision::bf16) {
    check_blas_threading_once();
    gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm(Precision, bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// The op family of cpu::Backend<T> (backend_ops.hpp). Under bf16, x, y, dy and dx may be bf16
// activations (act_ptr.hpp); under fp32 they are all T.
template <class T>
struct LinearOps {
  // y[M, N] = x[M, K] · W[N, K]ᵀ   (nn.Linear without bias, W stored [out, in])
  static void linear_forward(Precision p, int M, int N, int K, ActPtr<const T> x, ActPtr<const T> W, ActPtr<T> y) {
    if constexpr (std::is_same_v<T, float>)
      if (p == Precision::bf16) {
        check_blas_threading_once();
        return linear_forward_bf16(M, N, K, x, W, y);
      }
    gemm(p, false, true, M, N, K, T(1), x.scalar(), K, W.scalar(), K, T(0), y.scalar(), N);
  }

  // dx[M, K] = dy[M, N] · W[N, K]   (=),   dW[N, K] += dy[M, N]ᵀ · x[M, K]
  static void linear_backward(Precision p, int M, int N, int K, ActPtr<const T> dy, ActPtr<const T> x,
                              ActPtr<const T> W, ActPtr<T> dx, T* dW) {
    if constexpr (std::is_same_v<T, float>)
      if (p == Precision::bf16) {
        check_blas_threading_once();
        return linear_backward_bf16(M, N, K, dy, x, W, dx, dW);
      }
    gemm(p, false, false, M, K, N, T(1), dy.scalar(), N, W.scalar(), K, T(0), dx.scalar(), K);
    gemm(p, true, false, N, K, M, T(1), dy.scalar(), N, x.scalar(), K, T(1), dW, K);
  }

  // y = bf16(x), n values (a weight's bf16 copy).
  static void round_to_bf16(std::size_t n, const T* x, bf16_t* y) {
    if constexpr (std::is_same_v<T, float>) {
      constexpr std::size_t kRow = std::size_t(1) << 14;
#pragma omp parallel for schedule(static)
      for (std::size_t i = 0; i < n; i += kRow)
        round_row_to_bf16(int(std::min(kRow, n - i)), x + i, reinterpret_cast<std::uint16_t*>(y + i));
    } else {
      for (std::size_t i = 0; i < n; ++i) y[i] = from_float<bf16_t>(x[i]);
    }
  }
};

}  // namespace mixln::cpu
