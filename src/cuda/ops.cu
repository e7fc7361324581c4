// src/cuda/ops.cu — the CUDA backend's ops every model needs: the static members of
// cuda::Backend that cuda/backend.hpp declares from the lists of backend_ops.hpp, with their
// kernels (compiled by nvcc into the `mixln::cuda` library).
//
// This file holds the ops every model needs, compiled once: GEMMs, attention, RoPE, SwiGLU, the
// loss, the optimizer. What depends on the model type — its fused boundaries, the norms inside
// attention, a user branch's elementwise functions — is a template in cuda/kernels.cuh,
// compiled into the trainer's own translation unit for the kinds that model uses. Either way
// every per-row and per-element formula is a MIXLN_HD function of include/mixln/math/, run here
// on a BlockRow (cuda/row.cuh) and on the CPU on a SerialRow, where the tests check it against
// finite differences and PyTorch.
//
// Determinism: no atomics. Embedding gradients are accumulated per distinct token by one block
// walking that token's rows in order (a stable sort groups them), and reductions use
// cub::DeviceReduce (run-to-run deterministic on one device).
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_reduce.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>
#include <string>
#include <vector>

#include "mixln/error.hpp"
#include "mixln/math/adamw.hpp"
#include "mixln/math/cross_entropy.hpp"
#include "mixln/math/rope.hpp"
#include "mixln/math/softmax.hpp"
#include "mixln/math/swiglu.hpp"
#include "mixln/cuda/backend.hpp"
#include "mixln/cuda/row.cuh"
#include "mixln/cuda/stream.cuh"
#include "check.cuh"

namespace mixln::cuda {

namespace {

constexpr int kThreads = 256;     // threads per block of elementwise and per-row kernels
constexpr int kMaxBlocks = 65535;  // elementwise kernels use grid-stride loops beyond this

using detail::check;
using detail::sync_every_launch;

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < kMaxBlocks ? (b ? b : 1) : kMaxBlocks);
}

// Process-wide state: the cuBLAS handle and scratch buffers (the GEMM precision is an argument).
struct Context {
  cublasHandle_t blas = nullptr;
  DeviceBuffer<__nv_bfloat16> a16, b16;  // bf16 staging of GEMM inputs
  DeviceBuffer<unsigned char> reduce_tmp;
  DeviceBuffer<double> reduce_out;
  // embedding_backward: the batch's rows sorted by token, and the runs of equal tokens
  DeviceBuffer<std::int32_t> emb_keys, emb_rows, emb_order, emb_unique, emb_counts, emb_offsets, emb_runs;
  DeviceBuffer<unsigned char> emb_tmp;

  static Context& get() {
    static Context c;
    return c;
  }
  cublasHandle_t handle() {
    if (!blas) check(cublasCreate(&blas), "cublasCreate");
    return blas;
  }
  ~Context() {
    if (blas) cublasDestroy(blas);
  }
};

// --- elementwise and per-row kernels ---------------------------------------------------------

__global__ void to_bf16_kernel(const float* __restrict__ in, __nv_bfloat16* __restrict__ out, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    out[i] = __float2bfloat16_rn(in[i]);
}

__global__ void embedding_forward_kernel(int C, const std::int32_t* __restrict__ tok, const float* __restrict__ table,
                                         float* __restrict__ out) {
  const std::size_t r = blockIdx.x;
  const float* src = table + std::size_t(tok[r]) * C;
  for (int j = threadIdx.x; j < C; j += blockDim.x) out[r * C + j] = src[j];
}

__global__ void iota_kernel(int n, std::int32_t* __restrict__ out) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i;
}

// One block per distinct token of the batch (blocks beyond the number of runs return at once):
// it adds the token's rows, in row order, into the token's row of the table. Each table row has
// one writer and the order is the CPU's (cpu/embedding.hpp), so the sums are the same bit for bit.
__global__ void embedding_backward_runs_kernel(int C, const std::int32_t* __restrict__ unique,
                                               const std::int32_t* __restrict__ counts,
                                               const std::int32_t* __restrict__ offsets,
                                               const std::int32_t* __restrict__ num_runs,
                                               const std::int32_t* __restrict__ order,
                                               const float* __restrict__ dout, float* __restrict__ dtable) {
  const int u = blockIdx.x;
  if (u >= *num_runs) return;
  float* dst = dtable + std::size_t(unique[u]) * C;
  const int begin = offsets[u], end = begin + counts[u];
  for (int j = threadIdx.x; j < C; j += blockDim.x) {
    float acc = dst[j];
    for (int k = begin; k < end; ++k) acc += dout[std::size_t(order[k]) * C + j];
    dst[j] = acc;
  }
}

// One thread per element of rows × n: dst.row(i)[j] = src.row(i)[j].
__global__ void copy_rows_kernel(std::size_t rows, int n, RowsView<const float> src, RowsView<float> dst) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < rows * n;
       e += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t i = e / n, j = e % n;
    dst.row(i, n)[j] = src.row(i, n)[j];
  }
}

// One thread per (row, head) of q and k.
__global__ void rope_kernel(bool backward, int rows, int seq, int H, int D, float* qkv, const float* cs,
                            const float* sn) {
  const std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x;
  if (i >= std::size_t(rows) * 2 * H) return;
  const int r = int(i / (2 * H)), h = int(i % (2 * H)), t = r % seq, half = D / 2;
  float* v = qkv + std::size_t(r) * 3 * H * D + std::size_t(h) * D;
  if (backward)
    rope_rotate_backward(v, cs + std::size_t(t) * half, sn + std::size_t(t) * half, half);
  else
    rope_rotate(v, cs + std::size_t(t) * half, sn + std::size_t(t) * half, half);
}

// One block per score row (b, h, t): causal softmax over j ≤ t, zeros beyond.
__global__ void causal_softmax_kernel(int seq, float* probs) {
  __shared__ typename BlockRow<kThreads>::Shared sh;
  const int t = blockIdx.x % seq;
  float* row_ptr = probs + std::size_t(blockIdx.x) * seq;
  causal_softmax_row(BlockRow<kThreads>{t + 1, sh}, row_ptr, t + 1);
  for (int j = t + 1 + threadIdx.x; j < seq; j += kThreads) row_ptr[j] = 0.f;
}

__global__ void causal_softmax_backward_kernel(int seq, const float* probs, float* dprobs) {
  __shared__ typename BlockRow<kThreads>::Shared sh;
  const int t = blockIdx.x % seq;
  const std::size_t o = std::size_t(blockIdx.x) * seq;
  causal_softmax_backward_row(BlockRow<kThreads>{t + 1, sh}, probs + o, dprobs + o);
  for (int j = t + 1 + threadIdx.x; j < seq; j += kThreads) dprobs[o + j] = 0.f;
}

__global__ void swiglu_forward_kernel(std::size_t rows, int I, const float* __restrict__ gu, float* __restrict__ act) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < rows * I;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t r = i / I, j = i % I;
    act[i] = swiglu(gu[r * 2 * I + j], gu[r * 2 * I + I + j]);
  }
}

__global__ void swiglu_backward_kernel(std::size_t rows, int I, const float* __restrict__ gu,
                                       const float* __restrict__ dact, float* __restrict__ dgu) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < rows * I;
       i += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t r = i / I, j = i % I;
    mixln::swiglu_backward(gu[r * 2 * I + j], gu[r * 2 * I + I + j], dact[i], dgu[r * 2 * I + j],
                           dgu[r * 2 * I + I + j]);
  }
}

// One block per row of logits; with `grad`, the logits become the loss gradient in place.
__global__ void cross_entropy_kernel(int V, float* logits, const std::int32_t* labels, float scale, bool grad,
                                     float* row_loss) {
  __shared__ typename BlockRow<kThreads>::Shared sh;
  const BlockRow<kThreads> row{V, sh};
  const std::size_t r = blockIdx.x;
  float* z = logits + r * V;
  const float l = grad ? cross_entropy_row(row, z, labels[r], scale) : cross_entropy_loss_row(row, z, labels[r]);
  if (threadIdx.x == 0) row_loss[r] = l;
}

__global__ void adam_kernel(float* p, const float* g, float* m, float* v, std::size_t n, AdamHyper h, bool decay) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    mixln::adam_update(p[i], g[i], m[i], v[i], h, decay);
}

__global__ void scale_kernel(float* x, std::size_t n, float s) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    x[i] *= s;
}

struct Square {
  __device__ double operator()(float x) const { return double(x) * double(x); }
};
struct ToDouble {
  __device__ double operator()(float x) const { return double(x); }
};
struct SumOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};

template <class Transform>
double reduce_to_double(const float* x, std::size_t n, Transform t) {
  Context& c = Context::get();
  std::size_t bytes = 0;
  c.reduce_out.resize(1);
  check(cub::DeviceReduce::TransformReduce(nullptr, bytes, x, c.reduce_out.data(), n, SumOp{}, t, 0.0),
        "DeviceReduce (size)");
  if (c.reduce_tmp.size() < bytes) c.reduce_tmp.resize(bytes);
  check(cub::DeviceReduce::TransformReduce(c.reduce_tmp.data(), bytes, x, c.reduce_out.data(), n, SumOp{}, t, 0.0),
        "DeviceReduce");
  double out = 0;
  check(cudaMemcpy(&out, c.reduce_out.data(), sizeof(double), cudaMemcpyDeviceToHost), "reduce result");
  return out;
}

// Extent in elements of a row-major operand with `rows` x `cols`, leading dimension ld, and
// `batch` copies `stride` apart.
std::size_t extent(int rows, int cols, int ld, long long stride, int batch) {
  return std::size_t(batch - 1) * std::size_t(stride) + std::size_t(rows - 1) * ld + cols;
}

const __nv_bfloat16* stage_bf16(DeviceBuffer<__nv_bfloat16>& buf, const float* x, std::size_t n) {
  if (buf.size() < n) buf.resize(n);
  to_bf16_kernel<<<blocks_for(n), kThreads>>>(x, buf.data(), n);
  check_launch("to_bf16");
  return buf.data();
}

// Row-major strided-batched GEMM: C_i = alpha·op(A_i)·op(B_i) + beta·C_i, through the
// column-major identity Cᵀ = op(B)ᵀ·op(A)ᵀ.
void gemm_strided(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, long long sA,
                  const float* B, int ldb, long long sB, float beta, float* C, int ldc, long long sC, int batch) {
  Context& c = Context::get();
  cublasHandle_t h = c.handle();
  const cublasOperation_t opB = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opA = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (p == Precision::bf16) {
    const std::size_t na = extent(ta ? K : M, ta ? M : K, lda, sA, batch);
    const std::size_t nb = extent(tb ? N : K, tb ? K : N, ldb, sB, batch);
    const __nv_bfloat16* A16 = stage_bf16(c.a16, A, na);
    const __nv_bfloat16* B16 = stage_bf16(c.b16, B, nb);
    check(cublasGemmStridedBatchedEx(h, opB, opA, N, M, K, &alpha, B16, CUDA_R_16BF, ldb, sB, A16, CUDA_R_16BF, lda,
                                     sA, &beta, C, CUDA_R_32F, ldc, sC, batch, CUBLAS_COMPUTE_32F,
                                     CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx (bf16)");
  } else {
    const cublasComputeType_t compute =
        p == Precision::tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F_PEDANTIC;
    check(cublasGemmStridedBatchedEx(h, opB, opA, N, M, K, &alpha, B, CUDA_R_32F, ldb, sB, A, CUDA_R_32F, lda, sA,
                                     &beta, C, CUDA_R_32F, ldc, sC, batch, compute, CUBLAS_GEMM_DEFAULT),
          "cublasGemmStridedBatchedEx (fp32)");
  }
}

}  // namespace

// --- the stream -------------------------------------------------------------------------------

cudaStream_t compute_stream() {
  static const cudaStream_t s = [] {
    cudaStream_t made = nullptr;
    check(cudaStreamCreateWithFlags(&made, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    return made;
  }();
  return s;
}

// --- runtime ----------------------------------------------------------------------------------

void check_launch(const char* what) {
  check(cudaGetLastError(), what);
  if (sync_every_launch()) check(cudaDeviceSynchronize(), what);
}

DeviceProbe probe_devices() {
  DeviceProbe d;
  cudaDriverGetVersion(&d.driver_version);  // 0 without a driver
  cudaRuntimeGetVersion(&d.runtime_version);
  const cudaError_t e = cudaGetDeviceCount(&d.count);
  if (e != cudaSuccess) {
    d.count = 0;
    d.error = int(e);
    d.error_name = cudaGetErrorName(e);
    d.error_text = cudaGetErrorString(e);
    cudaGetLastError();  // (without a driver the error is sticky: later CUDA calls fail too)
  }
  return d;
}

std::string DeviceProbe::describe() const {
  const auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  const std::string versions =
      "driver " + (driver_version ? version(driver_version) : std::string("none")) + ", runtime " + version(runtime_version);
  if (count > 0) return std::to_string(count) + " CUDA device" + (count > 1 ? "s" : "") + " (" + versions + ")";
  const std::string why = error ? ": " + error_name + " (" + error_text + ")" : std::string();
  if (driver_version == 0 && error == 35) return "no CUDA driver on this machine" + why + " (" + versions + ")";
  std::string s = (error == 100 ? "no CUDA device" : "CUDA is unusable") + why + " (" + versions + ")";
  if (error == 35 && driver_version > 0) s += "; the driver is older than this runtime needs";
  return s;
}

void set_device(int device) { check(cudaSetDevice(device), ("cudaSetDevice(" + std::to_string(device) + ")").c_str()); }
int current_device() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

std::string device_name() {
  int device = 0;
  check(cudaGetDevice(&device), "cudaGetDevice");
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
  return p.name + std::string(" (device ") + std::to_string(device) + ")";
}
void* device_malloc(std::size_t bytes) {
  void* p = nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}
void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}
void memset_zero(void* p, std::size_t bytes) { check(cudaMemset(p, 0, bytes), "cudaMemset"); }
void copy_h2d(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy host to device");
}
void copy_d2h(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy device to host");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// --- ops --------------------------------------------------------------------------------------

void Backend::embedding_forward(int rows, int C, const std::int32_t* tok, const float* table, float* out) {
  embedding_forward_kernel<<<rows, 128>>>(C, tok, table, out);
  check_launch("embedding_forward");
}
// The rows are grouped by token first — a stable radix sort of (token, row), the runs of equal
// tokens and their offsets — so that the work spreads over one block per distinct token instead
// of walking all B·T rows in one thread per column.
void Backend::embedding_backward(int rows, int C, const std::int32_t* tok, const float* dout, float* dtable) {
  if (rows <= 0) return;
  Context& c = Context::get();
  const std::size_t n = std::size_t(rows);
  for (auto* b : {&c.emb_keys, &c.emb_rows, &c.emb_order, &c.emb_unique, &c.emb_counts, &c.emb_offsets})
    if (b->size() < n) b->resize(n);
  if (c.emb_runs.size() < 1) c.emb_runs.resize(1);
  iota_kernel<<<unsigned((rows + kThreads - 1) / kThreads), kThreads>>>(rows, c.emb_rows.data());
  check_launch("embedding_backward (row numbers)");
  c.emb_counts.zero();
  std::size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, tok, c.emb_keys.data(), c.emb_rows.data(),
                                        c.emb_order.data(), rows),
        "cub::DeviceRadixSort::SortPairs (size)");
  check(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, c.emb_keys.data(), c.emb_unique.data(),
                                           c.emb_counts.data(), c.emb_runs.data(), rows),
        "cub::DeviceRunLengthEncode::Encode (size)");
  check(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, c.emb_counts.data(), c.emb_offsets.data(), rows),
        "cub::DeviceScan::ExclusiveSum (size)");
  const std::size_t bytes = std::max({sort_bytes, rle_bytes, scan_bytes, std::size_t(1)});
  if (c.emb_tmp.size() < bytes) c.emb_tmp.resize(bytes);
  check(cub::DeviceRadixSort::SortPairs(c.emb_tmp.data(), sort_bytes, tok, c.emb_keys.data(), c.emb_rows.data(),
                                        c.emb_order.data(), rows),
        "cub::DeviceRadixSort::SortPairs");
  check(cub::DeviceRunLengthEncode::Encode(c.emb_tmp.data(), rle_bytes, c.emb_keys.data(), c.emb_unique.data(),
                                           c.emb_counts.data(), c.emb_runs.data(), rows),
        "cub::DeviceRunLengthEncode::Encode");
  check(cub::DeviceScan::ExclusiveSum(c.emb_tmp.data(), scan_bytes, c.emb_counts.data(), c.emb_offsets.data(), rows),
        "cub::DeviceScan::ExclusiveSum");
  embedding_backward_runs_kernel<<<unsigned(rows), 128>>>(C, c.emb_unique.data(), c.emb_counts.data(),
                                                          c.emb_offsets.data(), c.emb_runs.data(), c.emb_order.data(),
                                                          dout, dtable);
  check_launch("embedding_backward");
}

void Backend::copy_rows(int rows, int n, RowsView<const float> src, RowsView<float> dst) {
  copy_rows_kernel<<<blocks_for(std::size_t(rows) * n), kThreads>>>(std::size_t(rows), n, src, dst);
  check_launch("copy_rows");
}

void gemm(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
  gemm_strided(p, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

// y[M, N] = x[M, K] · W[N, K]ᵀ
void Backend::linear_forward(Precision p, int M, int N, int K, const float* x, const float* W, float* y) {
  gemm(p, false, true, M, N, K, 1.f, x, K, W, K, 0.f, y, N);
}
// dx = dy · W (=),  dW += dyᵀ · x
void Backend::linear_backward(Precision p, int M, int N, int K, const float* dy, const float* x, const float* W,
                              float* dx, float* dW) {
  gemm(p, false, false, M, K, N, 1.f, dy, N, W, K, 0.f, dx, K);
  gemm(p, true, false, N, K, M, 1.f, dy, N, x, K, 1.f, dW, K);
}

// The tables are computed on the host (math/rope.hpp, the CPU's own) and copied.
void Backend::rope_tables(int seq, int head_dim, float* cos_out, float* sin_out) {
  const int half = head_dim / 2;
  std::vector<float> cs(std::size_t(seq) * half), sn(cs.size());
  mixln::rope_tables(seq, head_dim, cs.data(), sn.data());
  copy_h2d(cos_out, cs.data(), cs.size() * sizeof(float));
  copy_h2d(sin_out, sn.data(), sn.size() * sizeof(float));
}

void Backend::rope(bool backward, int B, int seq, int H, int D, float* qkv, const float* cs, const float* sn) {
  const std::size_t n = std::size_t(B) * seq * 2 * H;
  rope_kernel<<<unsigned((n + kThreads - 1) / kThreads), kThreads>>>(backward, B * seq, seq, H, D, qkv, cs, sn);
  check_launch("rope");
}

// Per sequence b, strided-batched over the H heads (head h: columns h·D of q, k, v).
void Backend::attention_forward(Precision precision, int B, int seq, int H, int D, const float* qkv, float* probs, float* out) {
  const int C = H * D;
  const float scale = 1.f / std::sqrt(float(D));
  const long long TT = (long long)seq * seq;
  for (int b = 0; b < B; ++b) {
    const float* q = qkv + std::size_t(b) * seq * 3 * C;
    float* p = probs + std::size_t(b) * H * TT;
    gemm_strided(precision, false, true, seq, seq, D, scale, q, 3 * C, D, q + C, 3 * C, D, 0.f, p, seq, TT, H);  // S = QKᵀ
  }
  causal_softmax_kernel<<<unsigned(B * H * seq), kThreads>>>(seq, probs);
  check_launch("causal_softmax");
  for (int b = 0; b < B; ++b) {
    const float* v = qkv + std::size_t(b) * seq * 3 * C + 2 * C;
    gemm_strided(precision, false, false, seq, D, seq, 1.f, probs + std::size_t(b) * H * TT, seq, TT, v, 3 * C, D, 0.f,
                 out + std::size_t(b) * seq * C, C, D, H);  // O = P V
  }
}

void Backend::attention_backward(Precision precision, int B, int seq, int H, int D, const float* qkv, const float* probs,
                                 const float* dout, float* dprobs, float* dqkv) {
  const int C = H * D;
  const float scale = 1.f / std::sqrt(float(D));
  const long long TT = (long long)seq * seq;
  for (int b = 0; b < B; ++b) {
    const std::size_t base = std::size_t(b) * seq * 3 * C;
    const float* p = probs + std::size_t(b) * H * TT;
    float* dp = dprobs + std::size_t(b) * H * TT;
    const float* dO = dout + std::size_t(b) * seq * C;
    gemm_strided(precision, true, false, seq, D, seq, 1.f, p, seq, TT, dO, C, D, 0.f, dqkv + base + 2 * C, 3 * C, D, H);  // dV
    gemm_strided(precision, false, true, seq, seq, D, 1.f, dO, C, D, qkv + base + 2 * C, 3 * C, D, 0.f, dp, seq, TT, H);   // dP
  }
  causal_softmax_backward_kernel<<<unsigned(B * H * seq), kThreads>>>(seq, probs, dprobs);
  check_launch("causal_softmax_backward");
  for (int b = 0; b < B; ++b) {
    const std::size_t base = std::size_t(b) * seq * 3 * C;
    const float* ds = dprobs + std::size_t(b) * H * TT;
    gemm_strided(precision, false, false, seq, D, seq, scale, ds, seq, TT, qkv + base + C, 3 * C, D, 0.f, dqkv + base, 3 * C, D,
                 H);  // dQ = scale·dS K
    gemm_strided(precision, true, false, seq, D, seq, scale, ds, seq, TT, qkv + base, 3 * C, D, 0.f, dqkv + base + C, 3 * C, D,
                 H);  // dK = scale·dSᵀ Q
  }
}

void Backend::swiglu_forward(int rows, int I, const float* gu, float* act) {
  swiglu_forward_kernel<<<blocks_for(std::size_t(rows) * I), kThreads>>>(std::size_t(rows), I, gu, act);
  check_launch("swiglu_forward");
}
void Backend::swiglu_backward(int rows, int I, const float* gu, const float* dact, float* dgu) {
  swiglu_backward_kernel<<<blocks_for(std::size_t(rows) * I), kThreads>>>(std::size_t(rows), I, gu, dact, dgu);
  check_launch("swiglu_backward");
}

double Backend::cross_entropy(int rows, int V, float* logits, const std::int32_t* labels, int grad_divisor,
                              bool grad, float* row_loss) {
  const float scale = grad_divisor > 0 ? 1.f / float(grad_divisor) : 0.f;
  cross_entropy_kernel<<<rows, kThreads>>>(V, logits, labels, scale, grad, row_loss);
  check_launch("cross_entropy");
  return reduce_to_double(row_loss, std::size_t(rows), ToDouble{});
}

void Backend::adam_update(float* p, const float* g, float* m, float* v, std::size_t n, const AdamHyper& h, bool decay) {
  adam_kernel<<<blocks_for(n), kThreads>>>(p, g, m, v, n, h, decay);
  check_launch("adam_update");
}
double Backend::sum_squares(const float* x, std::size_t n) { return reduce_to_double(x, n, Square{}); }
void Backend::scale(float* x, std::size_t n, float s) {
  scale_kernel<<<blocks_for(n), kThreads>>>(x, n, s);
  check_launch("scale");
}

}  // namespace mixln::cuda
