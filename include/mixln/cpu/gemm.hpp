// mixln/cpu/gemm.hpp — row-major GEMM through CBLAS (OpenBLAS), in float and double.
//
//   C[M, N] = alpha · op(A) · op(B) + beta · C,   op(X) = X or Xᵀ, leading dimensions explicit
//
// With the OpenMP build of OpenBLAS, a call made inside an OpenMP parallel region runs on the
// calling thread only, so per-head GEMMs can be issued from a parallel loop.
//
// The float GEMMs follow the process's GEMM precision (set_gemm_precision; the trainers'
// `--precision fp32|bf16`): fp32 is sgemm; bf16 rounds both inputs to bf16 and accumulates in
// fp32 (gemm_bf16.hpp), as the CUDA backend does. The double GEMMs are always dgemm.
#pragma once

#include <cblas.h>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <type_traits>

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

enum class GemmPrecision { fp32, bf16 };

inline GemmPrecision& gemm_precision_state() {
  static GemmPrecision p = GemmPrecision::fp32;
  return p;
}
inline GemmPrecision gemm_precision() { return gemm_precision_state(); }
inline void set_gemm_precision(GemmPrecision p) { gemm_precision_state() = p; }
inline GemmPrecision parse_precision(const std::string& s) {
  if (s == "fp32") return GemmPrecision::fp32;
  if (s == "bf16") return GemmPrecision::bf16;
  throw std::invalid_argument("--precision: '" + s + "' is neither fp32 nor bf16");
}
inline const char* precision_name(GemmPrecision p) { return p == GemmPrecision::bf16 ? "bf16" : "fp32"; }

inline void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  static const bool checked = check_blas_threading();
  (void)checked;
  if (gemm_precision() == GemmPrecision::bf16) {
    gemm_bf16(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

inline void gemm(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda,
                 const double* B, int ldb, double beta, double* C, int ldc) {
  static const bool checked = check_blas_threading();
  (void)checked;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// y[M, N] = x[M, K] · W[N, K]ᵀ   (nn.Linear without bias, W stored [out, in])
template <class T>
void linear_forward(int M, int N, int K, const T* x, const T* W, T* y) {
  gemm(false, true, M, N, K, T(1), x, K, W, K, T(0), y, N);
}

// dx[M, K] = dy[M, N] · W[N, K]   (=),   dW[N, K] += dy[M, N]ᵀ · x[M, K]
template <class T>
void linear_backward(int M, int N, int K, const T* dy, const T* x, const T* W, T* dx, T* dW) {
  if constexpr (std::is_same_v<T, float>)
    if (gemm_precision() == GemmPrecision::bf16) return linear_backward_bf16(M, N, K, dy, x, W, dx, dW);
  gemm(false, false, M, K, N, T(1), dy, N, W, K, T(0), dx, K);
  gemm(true, false, N, K, M, T(1), dy, N, x, K, T(1), dW, K);
}

}  // namespace mixln::cpu
