// src/cuda/attention_exec.cuh — the executor the fused-attention kernel bodies are written over
// (attention.cu's SIMT kernels, attention_mma.cuh's tensor-core kernels): each body is a template
// over an executor `ex` that gives the thread's ids and the block-level primitives, so the same
// per-thread code is compiled for the GPU (DeviceExec, below: threadIdx, __syncthreads,
// __shfl_xor_sync, inline-PTX mma.sync) and for the host (tests/attention_emulator.hpp: one fiber
// per thread of a block, stepped in lock-step from one primitive to the next):
//   ex.thread()                     threadIdx.x
//   ex.block_x(), ex.block_y()      blockIdx.x, blockIdx.y;   ex.grid_y(): gridDim.y
//   ex.sync()                       __syncthreads()
//   ex.sync_warp()                  __syncwarp() (all 32 lanes take part)
//   ex.shfl_xor(v, mask)            __shfl_xor_sync(0xffffffff, v, mask) (all 32 lanes take part)
//   ex.mma(d, a, b)                 d = A·B + d, one m16n8k16 .row.col bf16 → f32 mma of the warp
//                                   (the tensor-core kernels only; fragments: attention_mma.cuh)
// Everything outside `#if defined(__CUDACC__)` compiles with the host compiler.
#pragma once

#include <cmath>
#include <cstdint>

#include "mixln/config.hpp"

#if defined(__CUDACC__)
#define MIXLN_EXEC_FN __device__ __forceinline__
#define MIXLN_UNROLL4 _Pragma("unroll 4")
#else
#define MIXLN_EXEC_FN inline
#if defined(__clang__)
#define MIXLN_UNROLL4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define MIXLN_UNROLL4 _Pragma("GCC unroll 4")
#else
#define MIXLN_UNROLL4
#endif
#endif

namespace mixln::attention_exec {

// fmaf and fmaxf on the device, their <cmath> equals on the host (same IEEE results).
MIXLN_EXEC_FN float fma_f(float a, float b, float c) {
#if defined(__CUDACC__)
  return fmaf(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
MIXLN_EXEC_FN float fmax_f(float a, float b) {
#if defined(__CUDACC__)
  return fmaxf(a, b);
#else
  return std::fmax(a, b);
#endif
}
MIXLN_EXEC_FN int imin(int a, int b) { return a < b ? a : b; }

#if defined(__CUDACC__)
struct DeviceExec {
  __device__ __forceinline__ int thread() const { return int(threadIdx.x); }
  __device__ __forceinline__ int block_x() const { return int(blockIdx.x); }
  __device__ __forceinline__ int block_y() const { return int(blockIdx.y); }
  __device__ __forceinline__ int grid_y() const { return int(gridDim.y); }
  __device__ __forceinline__ void sync() const { __syncthreads(); }
  __device__ __forceinline__ void sync_warp() const { __syncwarp(); }
  __device__ __forceinline__ float shfl_xor(float v, int mask) const { return __shfl_xor_sync(0xffffffffu, v, mask); }
  __device__ __forceinline__ void mma(float (&d)[4], const std::uint32_t (&a)[4], const std::uint32_t (&b)[2]) const {
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap();  // bf16 mma needs sm_80; attention.cu dispatches to the tensor-core kernels only on such devices
#endif
  }
};
#endif  // __CUDACC__

}  // namespace mixln::attention_exec
