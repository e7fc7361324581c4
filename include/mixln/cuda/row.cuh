// mixln/cuda/row.cuh — the CUDA row executor: one thread block per row.
//
// Thread t visits j = t, t + kThreads, ... in every phase, so a value a thread stores in one
// phase is the one it reads in the next; sum() and max() reduce with cub::BlockReduce and
// broadcast the result through shared memory (both end with __syncthreads, which also makes
// the temp storage reusable). The math in math/*.hpp runs unchanged on it.
#pragma once

#include <cub/block/block_reduce.cuh>

namespace mixln::cuda {

struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a > b ? a : b; }
};

template <int kThreads>
struct BlockRow {
  using Reduce = cub::BlockReduce<float, kThreads>;
  struct Shared {
    typename Reduce::TempStorage reduce;
    float result;
  };

  int n;
  Shared& sh;

  template <class F>
  __device__ float sum(F&& f) const {
    float acc = 0.f;
    for (int j = threadIdx.x; j < n; j += kThreads) acc += f(j);
    const float total = Reduce(sh.reduce).Sum(acc);
    if (threadIdx.x == 0) sh.result = total;
    __syncthreads();
    const float r = sh.result;
    __syncthreads();
    return r;
  }

  template <class F>
  __device__ float max(F&& f) const {
    float acc = -3.402823466e38f;
    for (int j = threadIdx.x; j < n; j += kThreads) acc = MaxOp{}(acc, f(j));
    const float total = Reduce(sh.reduce).Reduce(acc, MaxOp{});
    if (threadIdx.x == 0) sh.result = total;
    __syncthreads();
    const float r = sh.result;
    __syncthreads();
    return r;
  }

  template <class F>
  __device__ void each(F&& f) const {
    for (int j = threadIdx.x; j < n; j += kThreads) f(j);
  }
};

}  // namespace mixln::cuda
