// mixln/cuda/kernels.cuh — the CUDA kernels that depend on the model type, as templates.
//
// Included by cuda/backend.hpp when nvcc compiles it. A fused boundary is a kernel template of
// its BoundarySpec, a norm inside attention one of its norm kind, a user branch's elementwise
// function one of its functor: the translation unit that runs a model (a `_cuda` trainer, or a
// user's own .cu) compiles exactly the ones that model uses — no
// table of every combination, no limit on the norms of a boundary, and a user's own norm kind
// or block gets its kernels without editing the library.
//
// Launch shapes:
//   boundary_forward     one block of kRowThreads per row
//   boundary_backward    one block per chunk of kGpuRowsPerChunk (4) rows: each row's norm-parameter
//                        gradients go to the chunk's partial rows; then reduce_segments sums
//                        segments of consecutive chunks (32 columns × 8 chunk lanes a block,
//                        the lanes added in a fixed order) and add_segments adds the segments
//                        in order: no atomics, the same sums on every run
//   norm_rows_*          the same, for rows inside a larger buffer (QK-norm); 64 threads per
//                        row when rows are short (a head of ≤ 128 elements), else 256
//   map_*                grid-stride loops over elements
// Template arguments of __global__ functions are types and integers only (nvcc's stubs cannot
// spell class-type values); Boost.Hana never reaches these files.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "../math/boundary.hpp"
#include "../math/norm_rows.hpp"
#include "../math/row_chunks.hpp"
#include "backend.hpp"
#include "row.cuh"
#include "stream.cuh"

namespace mixln::cuda {

namespace kernels {

constexpr int kRowThreads = 256;
constexpr unsigned kMaxGrid = 65535;

// P parameter pointers (and their lengths: n, or 1 for a scalar), passed by value.
template <int P>
struct ParamRows {
  float* p[P + 1];
  int len[P + 1];
};
template <int P>
struct ConstParams {
  const float* p[P + 1];
};

template <class Spec>
__global__ void boundary_forward(int n, BoundaryArgs<Spec, float> b) {
  __shared__ typename BlockRow<kRowThreads>::Shared sh;
  const BlockRow<kRowThreads> row{n, sh};
  boundary_forward_row<Spec>(row, b, std::size_t(blockIdx.x));
}

// Zeroes the chunk's P partial rows; a thread zeroes the elements it later adds to.
template <int Threads>
__device__ void zero_partials(const BlockRow<Threads>& row, float* part, int P) {
  for (int p = 0; p < P; ++p) {
    float* r = part + std::size_t(p) * row.n;
    row.each([&](int j) { r[j] = 0.f; });
  }
}

template <class Spec>
__global__ void boundary_backward(int rows, int n, BoundaryArgs<Spec, float> b, BoundaryGradArgs<Spec, float> g) {
  __shared__ typename BlockRow<kRowThreads>::Shared sh;
  const BlockRow<kRowThreads> row{n, sh};
  const int ch = blockIdx.x;
  float* part = g.partials + std::size_t(ch) * (Spec::num_params + 1) * n;
  zero_partials(row, part, Spec::num_params);
  const int r1 = min(rows, (ch + 1) * kGpuRowsPerChunk);
  for (int r = ch * kGpuRowsPerChunk; r < r1; ++r) boundary_backward_row<Spec>(row, b, g, std::size_t(r), part);
}

// The chunk partials [chunks, P + 1, n] are summed in two deterministic steps, so that a few
// columns over many chunks (per-head QK-norm: n = head_dim, chunks = R·H/4) still spread over
// the GPU. Segment s covers chunks [s·L, s·L + L); its block (32 columns × kLanes chunk lanes)
// sums them — lane y takes chunks s·L + y, s·L + y + kLanes, ... in order, then the lanes are
// added in order — and writes the total over its first chunk's row, which only it reads.
constexpr int kLanes = 8;

template <int P>
__global__ void reduce_segments(int chunks, int n, int seg_len, float* partials, const __grid_constant__ ParamRows<P> dw) {
  __shared__ float lane_sum[kLanes][33];
  const int j = blockIdx.x * 32 + threadIdx.x, p = blockIdx.y, first = blockIdx.z * seg_len;
  const int last = min(chunks, first + seg_len);
  const bool live = j < dw.len[p];
  float acc = 0.f;
  if (live)
    for (int ch = first + threadIdx.y; ch < last; ch += kLanes)
      acc += partials[(std::size_t(ch) * (P + 1) + p) * n + j];
  lane_sum[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && live) {
    float total = 0.f;
    for (int y = 0; y < kLanes; ++y) total += lane_sum[y][threadIdx.x];
    partials[(std::size_t(first) * (P + 1) + p) * n + j] = total;
  }
}

// dw.p[p][j] += Σ over segments s (in order) of the segment totals; thread (j, p).
template <int P>
__global__ void add_segments(int segments, int n, int seg_len, const float* __restrict__ partials,
                             const __grid_constant__ ParamRows<P> dw) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x, p = blockIdx.y;
  if (j >= dw.len[p]) return;
  float acc = 0.f;
  for (int s = 0; s < segments; ++s) acc += partials[(std::size_t(s) * seg_len * (P + 1) + p) * n + j];
  dw.p[p][j] += acc;
}

template <class K, int Threads>
__global__ void norm_rows_forward(int n, RowsView<const float> x, RowsView<float> y,
                                  ConstParams<int(K::params.size())> w, float* stats) {
  __shared__ typename BlockRow<Threads>::Shared sh;
  const BlockRow<Threads> row{n, sh};
  const std::size_t i = blockIdx.x;
  norm_row_forward<K>(row, x.row(i, n), y.row(i, n), w.p, stats + i * K::num_stats);
}

template <class K, int Threads>
__global__ void norm_rows_backward(int rows, int n, RowsView<const float> x, const float* stats,
                                   ConstParams<int(K::params.size())> w, RowsView<const float> dy, RowsView<float> dx,
                                   float* partials) {
  constexpr int P = int(K::params.size());
  __shared__ typename BlockRow<Threads>::Shared sh;
  const BlockRow<Threads> row{n, sh};
  const int ch = blockIdx.x;
  float* part = partials + std::size_t(ch) * (P + 1) * n;
  zero_partials(row, part, P);
  float* dwp[P + 1];
  for (int p = 0; p < P; ++p) dwp[p] = part + std::size_t(p) * n;
  const int r1 = min(rows, (ch + 1) * kGpuRowsPerChunk);
  for (int i = ch * kGpuRowsPerChunk; i < r1; ++i)
    norm_row_backward<K>(row, x.row(std::size_t(i), n), stats + std::size_t(i) * K::num_stats, w.p,
                         dy.row(std::size_t(i), n), dx.row(std::size_t(i), n), dwp);
}

// y may be x: each element is read, then written, by one thread.
template <class Op>
__global__ void map_forward(std::size_t n, const float* x, float* y) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    y[i] = Op::forward(x[i]);
}
// dx may be dy: each element is read, then written, by one thread.
template <class Op>
__global__ void map_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    dx[i] = Op::backward(x[i], dy[i]);
}

inline unsigned grid_for(std::size_t n) {
  const std::size_t b = (n + kRowThreads - 1) / kRowThreads;
  return unsigned(b == 0 ? 1 : b < kMaxGrid ? b : kMaxGrid);
}

// Adds the chunk partials of P parameters (per-channel flags in order) to their gradients.
template <int P, class PerChannel>
void launch_reduce_partials(int chunks, int n, float* partials, float* const* dw, const PerChannel& per_channel) {
  ParamRows<P> rows{};
  for (int p = 0; p < P; ++p) {
    rows.p[p] = dw[p];
    rows.len[p] = per_channel[std::size_t(p)] ? n : 1;
  }
  // Segments of 4·kLanes chunks: every lane sums about 4 chunks, and the last step adds
  // ⌈chunks / 32⌉ segment totals per column.
  const int seg_len = 4 * kLanes, segments = (chunks + seg_len - 1) / seg_len;
  const unsigned col_tiles = unsigned((n + 31) / 32);
  reduce_segments<P><<<dim3(col_tiles, unsigned(P), unsigned(segments)), dim3(32, kLanes), 0, compute_stream()>>>(chunks, n, seg_len,
                                                                                           partials, rows);
  check_launch("reduce_segments");
  add_segments<P><<<dim3(unsigned((n + kRowThreads - 1) / kRowThreads), unsigned(P)), kRowThreads, 0, compute_stream()>>>(
      segments, n, seg_len, partials, rows);
  check_launch("add_segments");
}

}  // namespace kernels

template <class Spec>
void Backend::boundary_forward(int rows, int n, const BoundaryArgs<Spec, float>& b) {
  if (rows <= 0 || n <= 0) return;  // nothing to do (a zero-size grid is a launch error)
  kernels::boundary_forward<Spec><<<unsigned(rows), kernels::kRowThreads, 0, compute_stream()>>>(n, b);
  check_launch("boundary_forward");
}

template <class Spec>
void Backend::boundary_backward(int rows, int n, const BoundaryArgs<Spec, float>& b,
                                const BoundaryGradArgs<Spec, float>& g) {
  if (rows <= 0 || n <= 0) return;
  const int chunks = row_chunks(rows, kGpuRowsPerChunk);
  kernels::boundary_backward<Spec><<<unsigned(chunks), kernels::kRowThreads, 0, compute_stream()>>>(rows, n, b, g);
  check_launch("boundary_backward");
  if constexpr (Spec::num_params > 0)
    kernels::launch_reduce_partials<Spec::num_params>(chunks, n, g.partials, g.dw, Spec::norms::per_channel);
}

template <class Kind>
void Backend::norm_rows_forward(int rows, int n, RowsView<const float> x, RowsView<float> y, float* const* w,
                                float* stats) {
  if (rows <= 0 || n <= 0) return;
  constexpr int P = int(Kind::params.size());
  kernels::ConstParams<P> wp{};
  for (int p = 0; p < P; ++p) wp.p[p] = w[p];
  if (n <= 128)
    kernels::norm_rows_forward<Kind, 64><<<unsigned(rows), 64, 0, compute_stream()>>>(n, x, y, wp, stats);
  else
    kernels::norm_rows_forward<Kind, kernels::kRowThreads><<<unsigned(rows), kernels::kRowThreads, 0, compute_stream()>>>(n, x, y, wp, stats);
  check_launch("norm_rows_forward");
}

template <class Kind>
void Backend::norm_rows_backward(int rows, int n, RowsView<const float> x, const float* stats, float* const* w,
                                 RowsView<const float> dy, RowsView<float> dx, float* const* dw, float* partials) {
  if (rows <= 0 || n <= 0) return;
  constexpr int P = int(Kind::params.size());
  kernels::ConstParams<P> wp{};
  for (int p = 0; p < P; ++p) wp.p[p] = w[p];
  const int chunks = row_chunks(rows, kGpuRowsPerChunk);
  if (n <= 128)
    kernels::norm_rows_backward<Kind, 64><<<unsigned(chunks), 64, 0, compute_stream()>>>(rows, n, x, stats, wp, dy, dx, partials);
  else
    kernels::norm_rows_backward<Kind, kernels::kRowThreads>
        <<<unsigned(chunks), kernels::kRowThreads, 0, compute_stream()>>>(rows, n, x, stats, wp, dy, dx, partials);
  check_launch("norm_rows_backward");
  if constexpr (P > 0) {
    bool per_channel[P + 1] = {};
    for (int p = 0; p < P; ++p) per_channel[p] = Kind::params[std::size_t(p)].per_channel;
    kernels::launch_reduce_partials<P>(chunks, n, partials, dw, per_channel);
  }
}

template <class Op>
void Backend::map_forward(std::size_t n, const float* x, float* y) {
  if (n == 0) return;
  kernels::map_forward<Op><<<kernels::grid_for(n), kernels::kRowThreads, 0, compute_stream()>>>(n, x, y);
  check_launch("map_forward");
}

template <class Op>
void Backend::map_backward(std::size_t n, const float* x, const float* dy, float* dx) {
  if (n == 0) return;
  kernels::map_backward<Op><<<kernels::grid_for(n), kernels::kRowThreads, 0, compute_stream()>>>(n, x, dy, dx);
  check_launch("map_backward");
}

}  // namespace mixln::cuda
