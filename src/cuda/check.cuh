// src/cuda/check.cuh — error checks shared by the files of the mixln::cuda library.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <string>

#include "mixln/error.hpp"

namespace mixln::cuda::detail {

// A kernel's fault surfaces at a later call (launches are asynchronous): such errors say so, and
// MIXLN_CUDA_SYNC=1 makes every launch wait for its kernel, so that the error names it.
inline bool sync_every_launch() {
  static const bool yes = [] {
    const char* v = std::getenv("MIXLN_CUDA_SYNC");
    return v != nullptr && std::string(v) == "1";
  }();
  return yes;
}

inline void check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return;
  std::string msg = std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  const bool from_a_kernel = e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorMisalignedAddress ||
                             e == cudaErrorIllegalInstruction || e == cudaErrorHardwareStackError ||
                             e == cudaErrorAssert || e == cudaErrorInvalidPc || e == cudaErrorLaunchTimeout ||
                             e == cudaErrorInvalidAddressSpace;
  if (from_a_kernel && !sync_every_launch())
    msg += "; an earlier kernel may have caused it (rerun with MIXLN_CUDA_SYNC=1 to name the kernel)";
  throw Error(msg);
}

inline void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(std::string("cuBLAS error ") + std::to_string(int(s)) + " in " + what);
}

}  // namespace mixln::cuda::detail
