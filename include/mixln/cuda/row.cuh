// mixln/cuda/row.cuh — the CUDA row executor: one thread block per row.
//
// Thread t visits j = t, t + kThreads, ... in every phase, so a value a thread stores in one
// phase is the one it reads in the next; sum() and max() reduce with cub::BlockReduce and
// broadcast the result through shared memory (both end with __syncthreads, which also makes
// the temp storage reusable). The math in math/*.hpp runs unchanged on it.
#pragma once

#include <cub/block/block_reduce.cuh>

namespace mixln::cuda {

struct SumOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
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
    return reduce(static_cast<F&&>(f), 0.f, SumOp{});
  }

  template <class F>
  __device__ float max(F&& f) const {
    return reduce(static_cast<F&&>(f), -__int_as_float(0x7f800000), MaxOp{});  // −∞, as the CPU's max
  }

  template <class F>
  __device__ void each(F&& f) const {
    for (int j = threadIdx.x; j < n; j += kThreads) f(j);
  }

  // Thread 0: the one that visits j = 0 in each().
  __device__ bool leader() const { return threadIdx.x == 0; }

 private:
  // op over f(j) for all j of the row, the result broadcast to every thread of the block.
  template <class F, class Op>
  __device__ float reduce(F&& f, float init, Op op) const {
    float acc = init;
    for (int j = threadIdx.x; j < n; j += kThreads) acc = op(acc, f(j));
    const float total = Reduce(sh.reduce).Reduce(acc, op);
    if (threadIdx.x == 0) sh.result = total;
    __syncthreads();
    const float r = sh.result;
    __syncthreads();
    return r;
  }
};

}  // namespace mixln::cuda
