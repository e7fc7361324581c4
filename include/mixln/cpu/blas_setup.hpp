// mixln/cpu/blas_setup.hpp — make OpenBLAS use the kernels the CPU can run best.
//
// OpenBLAS 0.3.21 (Debian 12) does not know AMD Zen 4 and runs its AVX2 "Haswell" kernels
// there although the CPU has AVX-512; its "SkylakeX" kernels are about 1.7× faster (sgemm
// 1024³ on the 2-core development machine: 186 → 315 GFLOP/s). OpenBLAS reads the kernel
// choice from OPENBLAS_CORETYPE when it is loaded, before main(), so the trainer re-executes
// itself once with OPENBLAS_CORETYPE=SkylakeX when (a) OpenBLAS chose Haswell or Zen,
// (b) the CPU has AVX-512 F/BW/DQ/VL, and (c) neither OPENBLAS_CORETYPE nor
// MIXLN_NO_BLAS_REEXEC is set. Programs that use the library without cli::main can set the
// variable themselves.
#pragma once

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace mixln::cpu {

inline void prefer_avx512_blas(char** argv) {
#if defined(OPENBLAS_VERSION) && (defined(__x86_64__) || defined(__i386__))
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("MIXLN_NO_BLAS_REEXEC")) return;
  const char* core = openblas_get_corename();
  if (!core || (std::strcmp(core, "Haswell") != 0 && std::strcmp(core, "Zen") != 0 &&
                std::strcmp(core, "haswell") != 0 && std::strcmp(core, "zen") != 0))
    return;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
      !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
    return;
  ::setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with what we have
  ::unsetenv("OPENBLAS_CORETYPE");
#else
  (void)argv;
#endif
}

}  // namespace mixln::cpu
