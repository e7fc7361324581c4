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
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <cub/block/block_reduce.cuh>
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

// Incremented whenever device or pinned memory is freed: a captured graph may point into it.
std::atomic<unsigned long long> memory_epoch_counter{0};
std::atomic<long long> launches{0};  // launch_count()
std::atomic<bool> graphs_enabled{true};
GraphNodes graph_nodes;

// Sizes of live device allocations, for memory_stats().
struct Allocations {
  std::mutex lock;
  std::unordered_map<void*, std::size_t> bytes;
  std::size_t current = 0, peak = 0;
  static Allocations& get() {  // never destroyed: DeviceBuffers in other statics free into it at exit
    static Allocations* a = new Allocations;
    return *a;
  }
};

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < kMaxBlocks ? (b ? b : 1) : kMaxBlocks);
}

// Process-wide state: the cuBLAS handle and scratch buffers (the GEMM precision is an argument).
struct Context {
  cublasHandle_t blas = nullptr;
  DeviceBuffer<__nv_bfloat16> a16, b16;  // bf16 staging of GEMM inputs
  DeviceBuffer<unsigned char> reduce_tmp;
  // embedding_backward: the batch's rows sorted by token, and the runs of equal tokens
  DeviceBuffer<std::int32_t> emb_keys, emb_rows, emb_order, emb_unique, emb_counts, emb_offsets, emb_runs;
  DeviceBuffer<unsigned char> emb_tmp;

  static Context& get() {
    static Context c;
    return c;
  }
  DeviceBuffer<unsigned char> blas_workspace;  // cuBLAS's own, set once: no allocation inside a graph
  // stage(): one pinned host buffer per device buffer staged into, and the event after which
  // the last staged copy (or graph) has read them
  struct Pinned {
    void* host = nullptr;
    std::size_t bytes = 0;
  };
  std::map<const void*, Pinned> pinned;
  cudaEvent_t staged = nullptr;

  cublasHandle_t handle() {
    if (!blas) {
      check(cublasCreate(&blas), "cublasCreate");
      check(cublasSetStream(blas, compute_stream()), "cublasSetStream");
      blas_workspace.resize(std::size_t(32) << 20);
      check(cublasSetWorkspace(blas, blas_workspace.data(), blas_workspace.size()), "cublasSetWorkspace");
    }
    return blas;
  }
  ~Context() {
    if (blas) cublasDestroy(blas);
    for (auto& [dst, p] : pinned) cudaFreeHost(p.host);
    if (staged) cudaEventDestroy(staged);
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

// patches[e] = images[patch_source(e)], one thread per element of patches.
__global__ void patchify_kernel(std::size_t n, int height, int width, int channels, int patch,
                                const float* __restrict__ images, float* __restrict__ patches) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < n; e += std::size_t(gridDim.x) * blockDim.x)
    patches[e] = images[patch_source(e, height, width, channels, patch)];
}

// y[r, j] += b[j], one thread per element.
__global__ void bias_forward_kernel(std::size_t rows, int n, const float* __restrict__ b, float* __restrict__ y) {
  for (std::size_t e = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; e < rows * n;
       e += std::size_t(gridDim.x) * blockDim.x)
    y[e] += b[e % n];
}

// db[j] += Σ_r dy[r, j]: a block of kBiasColumns × kBiasRowLanes threads owns kBiasColumns
// columns; lane (x, y) sums rows y, y + kBiasRowLanes, ... of column x in order, then lane y = 0
// adds the kBiasRowLanes partial sums in order — the same result on every run (no atomics).
constexpr int kBiasColumns = 32, kBiasRowLanes = 16;
__global__ void __launch_bounds__(kBiasColumns * kBiasRowLanes)
    bias_backward_kernel(int rows, int n, const float* __restrict__ dy, float* __restrict__ db) {
  __shared__ float partial[kBiasRowLanes][kBiasColumns + 1];
  const int x = threadIdx.x, y = threadIdx.y, j = blockIdx.x * kBiasColumns + x;
  float acc = 0.f;
  if (j < n)
    for (int r = y; r < rows; r += kBiasRowLanes) acc += dy[std::size_t(r) * n + j];
  partial[y][x] = acc;
  __syncthreads();
  if (y == 0 && j < n) {
    float sum = 0.f;
    for (int k = 0; k < kBiasRowLanes; ++k) sum += partial[k][x];
    db[j] += sum;
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

// One block per chunk of the flat buffer (train/optimizer.hpp); nothing happens unless both
// values at finite_check (the loss sum and the squared gradient norm) are finite.
__global__ void adam_kernel(float* p, const float* g, float* m, float* v, const AdamChunk* chunks, AdamHyper h,
                            const double* finite_check) {
  if (finite_check && !(isfinite(finite_check[0]) && isfinite(finite_check[1]))) return;
  const AdamChunk k = chunks[blockIdx.x];
  for (std::size_t i = threadIdx.x; i < k.count; i += blockDim.x)
    mixln::adam_update(p[k.param + i], g[k.param + i], m[k.moment + i], v[k.moment + i], h, k.decay != 0);
}

// x *= max_norm / (norm + 1e-6) where norm = √(*sum_squares) > max_norm: the CPU's formula.
__global__ void clip_kernel(float* x, std::size_t n, const double* sum_squares, double max_norm) {
  const double norm = sqrt(*sum_squares);
  if (!(max_norm > 0 && norm > max_norm)) return;
  const float s = float(max_norm / (norm + 1e-6));
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x)
    x[i] *= s;
}

// *sum += Σ row_loss in double, in one block: each thread sums rows i, i + 1024, ... in order,
// then a fixed-shape block reduction — the same sum on every run, and no atomics.
constexpr int kSumThreads = 1024;
__global__ void add_row_losses_kernel(int rows, const float* __restrict__ row_loss, double* sum) {
  using Reduce = cub::BlockReduce<double, kSumThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  double acc = 0;
  for (int r = threadIdx.x; r < rows; r += kSumThreads) acc += double(row_loss[r]);
  const double total = Reduce(tmp).Sum(acc);
  if (threadIdx.x == 0) *sum += total;
}

struct Square {
  __device__ double operator()(float x) const { return double(x) * double(x); }
};
struct SumDouble {
  __device__ double operator()(double a, double b) const { return a + b; }
};

// Extent in elements of a row-major operand with `rows` x `cols`, leading dimension ld, and
// `batch` copies `stride` apart.
std::size_t extent(int rows, int cols, int ld, long long stride, int batch) {
  return std::size_t(batch - 1) * std::size_t(stride) + std::size_t(rows - 1) * ld + cols;
}

const __nv_bfloat16* stage_bf16(DeviceBuffer<__nv_bfloat16>& buf, const float* x, std::size_t n) {
  if (buf.size() < n) buf.resize(n);
  to_bf16_kernel<<<blocks_for(n), kThreads, 0, compute_stream()>>>(x, buf.data(), n);
  check_launch("to_bf16");
  return buf.data();
}

// Row-major strided-batched GEMM: C_i = alpha·op(A_i)·op(B_i) + beta·C_i, through the
// column-major identity Cᵀ = op(B)ᵀ·op(A)ᵀ.
void gemm_strided(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, long long sA,
                  const float* B, int ldb, long long sB, float beta, float* C, int ldc, long long sC, int batch) {
  Context& c = Context::get();
  cublasHandle_t h = c.handle();
  launches.fetch_add(1);
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
  launches.fetch_add(1);
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
  Allocations& a = Allocations::get();
  const std::lock_guard<std::mutex> g(a.lock);
  a.bytes[p] = bytes;
  a.current += bytes;
  a.peak = std::max(a.peak, a.current);
  return p;
}
void device_free(void* p) noexcept {
  if (!p) return;
  cudaFree(p);
  memory_epoch_counter.fetch_add(1);
  Allocations& a = Allocations::get();
  const std::lock_guard<std::mutex> g(a.lock);
  const auto it = a.bytes.find(p);
  if (it != a.bytes.end()) a.current -= it->second, a.bytes.erase(it);
}
MemoryStats memory_stats() {
  Allocations& a = Allocations::get();
  const std::lock_guard<std::mutex> g(a.lock);
  return {a.current, a.peak};
}
void reset_peak_memory() {
  Allocations& a = Allocations::get();
  const std::lock_guard<std::mutex> g(a.lock);
  a.peak = a.current;
}
long long launch_count() { return launches.load(); }
GraphNodes last_graph_nodes() { return graph_nodes; }
// Zeroing is a launch on the stream (part of a step, and of its graph); the copies wait for the
// stream: they are the host's reads and writes outside the step.
void memset_zero(void* p, std::size_t bytes) {
  launches.fetch_add(1);
  check(cudaMemsetAsync(p, 0, bytes, compute_stream()), "cudaMemsetAsync");
}
void copy_h2d(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, compute_stream()), "cudaMemcpyAsync host to device");
  check(cudaStreamSynchronize(compute_stream()), "cudaMemcpyAsync host to device (wait)");
}
void copy_d2h(void* dst, const void* src, std::size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, compute_stream()), "cudaMemcpyAsync device to host");
  check(cudaStreamSynchronize(compute_stream()), "cudaMemcpyAsync device to host (wait)");
}
void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

// --- staging and graphs -----------------------------------------------------------------------

unsigned long long memory_epoch() { return memory_epoch_counter.load(); }

bool capturing() {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(compute_stream(), &status), "cudaStreamIsCapturing");
  return status != cudaStreamCaptureStatusNone;
}

// After the stream's work so far: the staged copies (and graphs) issued until now have read
// their pinned buffers once the event has passed.
void mark_staged() {
  Context& c = Context::get();
  if (!c.staged) check(cudaEventCreateWithFlags(&c.staged, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventRecord(c.staged, compute_stream()), "cudaEventRecord");
}

void stage_host(const void* dst, const void* src, std::size_t bytes) {
  Context& c = Context::get();
  if (c.staged) check(cudaEventSynchronize(c.staged), "waiting for the previous staged copy");
  Context::Pinned& p = c.pinned[dst];
  if (p.bytes < bytes) {
    if (p.host) {
      check(cudaFreeHost(p.host), "cudaFreeHost");
      memory_epoch_counter.fetch_add(1);
    }
    p.host = nullptr;
    p.bytes = 0;
    check(cudaMallocHost(&p.host, bytes), "cudaMallocHost (staging)");
    p.bytes = bytes;
  }
  std::memcpy(p.host, src, bytes);
}

void stage_copy(void* dst, std::size_t bytes) {
  // Inside a capture the copy is left out of the graph: the host issues it before each launch
  // (Backend::restage), so that the next stage_host waits for that copy only, not for the whole
  // graph — the host stays a micro-step ahead.
  if (capturing()) return;
  Context& c = Context::get();
  const auto it = c.pinned.find(dst);
  if (it == c.pinned.end() || it->second.bytes < bytes) throw Error("stage_copy: nothing staged for this buffer");
  launches.fetch_add(1);
  check(cudaMemcpyAsync(dst, it->second.host, bytes, cudaMemcpyHostToDevice, compute_stream()), "cudaMemcpyAsync (staged)");
  mark_staged();
}

bool graphs_usable() { return graphs_enabled.load() && !sync_every_launch(); }
void set_graphs_enabled(bool on) { graphs_enabled.store(on); }

void begin_capture() {
  Context::get().handle();  // cuBLAS set up (and its workspace allocated) before, not during, the capture
  check(cudaStreamBeginCapture(compute_stream(), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
}

void* end_capture() {
  cudaGraph_t graph = nullptr;
  check(cudaStreamEndCapture(compute_stream(), &graph), "cudaStreamEndCapture");
  std::size_t n = 0;
  check(cudaGraphGetNodes(graph, nullptr, &n), "cudaGraphGetNodes");
  std::vector<cudaGraphNode_t> nodes(n);
  if (n) check(cudaGraphGetNodes(graph, nodes.data(), &n), "cudaGraphGetNodes");
  GraphNodes counted{(long long)n, 0};
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type{};
    if (cudaGraphNodeGetType(node, &type) == cudaSuccess && type == cudaGraphNodeTypeKernel) ++counted.kernels;
  }
  graph_nodes = counted;
  cudaGraphExec_t exec = nullptr;
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(e, "cudaGraphInstantiate");
  return exec;
}

void abort_capture() noexcept {
  cudaGraph_t graph = nullptr;
  if (cudaStreamEndCapture(compute_stream(), &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
  cudaGetLastError();  // the capture's error is not sticky; clear it
}

void launch_graph(void* exec) {
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), compute_stream()), "cudaGraphLaunch");
  if (sync_every_launch()) check(cudaStreamSynchronize(compute_stream()), "cudaGraphLaunch");
}

void destroy_graph(void* exec) noexcept {
  if (exec) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
}

// --- measurement ------------------------------------------------------------------------------

EventTimer::~EventTimer() {
  for (void* e : events_) cudaEventDestroy(static_cast<cudaEvent_t>(e));
}
void EventTimer::mark() {
  if (used_ == events_.size()) {
    cudaEvent_t e = nullptr;
    check(cudaEventCreate(&e), "cudaEventCreate");
    events_.push_back(e);
  }
  check(cudaEventRecord(static_cast<cudaEvent_t>(events_[used_++]), compute_stream()), "cudaEventRecord");
}
std::vector<double> EventTimer::intervals_ms() {
  std::vector<double> out;
  if (used_ == 0) return out;
  check(cudaEventSynchronize(static_cast<cudaEvent_t>(events_[used_ - 1])), "cudaEventSynchronize");
  for (std::size_t i = 1; i < used_; ++i) {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(events_[i - 1]), static_cast<cudaEvent_t>(events_[i])),
          "cudaEventElapsedTime");
    out.push_back(double(ms));
  }
  used_ = 0;
  return out;
}

namespace {
// The median of five timed runs of f (after one untimed), in milliseconds.
template <class F>
double median_ms(F&& f) {
  EventTimer t;
  f();
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    t.mark();
    f();
    t.mark();
    ms.push_back(t.intervals_ms().at(0));
  }
  std::sort(ms.begin(), ms.end());
  return ms[2];
}
}  // namespace

Ceilings measure_ceilings(int n, std::size_t bytes) {
  Ceilings c;
  {
    const std::size_t nn = std::size_t(n) * n;
    DeviceBuffer<__nv_bfloat16> a(nn), b(nn);
    DeviceBuffer<float> out(nn);
    std::vector<float> host(nn);
    for (std::size_t i = 0; i < nn; ++i) host[i] = float((i * 2654435761u) % 1000) / 1000.f - 0.5f;  // not zeros
    DeviceBuffer<float> src(nn);
    copy_h2d(src.data(), host.data(), nn * sizeof(float));
    to_bf16_kernel<<<blocks_for(nn), kThreads, 0, compute_stream()>>>(src.data(), a.data(), nn);
    to_bf16_kernel<<<blocks_for(nn), kThreads, 0, compute_stream()>>>(src.data(), b.data(), nn);
    check_launch("to_bf16 (ceiling)");
    cublasHandle_t h = Context::get().handle();
    const float one = 1.f, zero = 0.f;
    const double ms = median_ms([&] {
      check(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a.data(), CUDA_R_16BF, n, b.data(), CUDA_R_16BF, n,
                         &zero, out.data(), CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
            "cublasGemmEx (ceiling)");
    });
    c.gemm_tflops = 2.0 * double(n) * n * n / (ms * 1e-3) / 1e12;
  }
  {
    DeviceBuffer<unsigned char> from(bytes), to(bytes);
    memset_zero(from.data(), bytes);
    const double ms = median_ms([&] {
      check(cudaMemcpyAsync(to.data(), from.data(), bytes, cudaMemcpyDeviceToDevice, compute_stream()),
            "cudaMemcpyAsync (ceiling)");
    });
    c.copy_gbs = 2.0 * double(bytes) / (ms * 1e-3) / 1e9;
  }
  return c;
}

double nominal_bf16_flops() {
  const std::string name = device_name();
  for (const char* h : {"H100", "H200", "H800", "GH200"})
    if (name.find(h) != std::string::npos) return 989e12;
  for (const char* a : {"A100", "A800"})
    if (name.find(a) != std::string::npos) return 312e12;
  if (name.find("L40S") != std::string::npos) return 362e12;
  return 0;
}

// --- ops --------------------------------------------------------------------------------------

void Backend::embedding_forward(int rows, int C, const std::int32_t* tok, const float* table, float* out) {
  embedding_forward_kernel<<<rows, 128, 0, compute_stream()>>>(C, tok, table, out);
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
  iota_kernel<<<unsigned((rows + kThreads - 1) / kThreads), kThreads, 0, compute_stream()>>>(rows, c.emb_rows.data());
  check_launch("embedding_backward (row numbers)");
  c.emb_counts.zero();
  std::size_t sort_bytes = 0, rle_bytes = 0, scan_bytes = 0;
  check(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, tok, c.emb_keys.data(), c.emb_rows.data(),
                                        c.emb_order.data(), rows, 0, 32, compute_stream()),
        "cub::DeviceRadixSort::SortPairs (size)");
  check(cub::DeviceRunLengthEncode::Encode(nullptr, rle_bytes, c.emb_keys.data(), c.emb_unique.data(),
                                           c.emb_counts.data(), c.emb_runs.data(), rows, compute_stream()),
        "cub::DeviceRunLengthEncode::Encode (size)");
  check(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, c.emb_counts.data(), c.emb_offsets.data(), rows, compute_stream()),
        "cub::DeviceScan::ExclusiveSum (size)");
  const std::size_t bytes = std::max({sort_bytes, rle_bytes, scan_bytes, std::size_t(1)});
  if (c.emb_tmp.size() < bytes) c.emb_tmp.resize(bytes);
  launches.fetch_add(3);  // the three CUB algorithms below
  check(cub::DeviceRadixSort::SortPairs(c.emb_tmp.data(), sort_bytes, tok, c.emb_keys.data(), c.emb_rows.data(),
                                        c.emb_order.data(), rows, 0, 32, compute_stream()),
        "cub::DeviceRadixSort::SortPairs");
  check(cub::DeviceRunLengthEncode::Encode(c.emb_tmp.data(), rle_bytes, c.emb_keys.data(), c.emb_unique.data(),
                                           c.emb_counts.data(), c.emb_runs.data(), rows, compute_stream()),
        "cub::DeviceRunLengthEncode::Encode");
  check(cub::DeviceScan::ExclusiveSum(c.emb_tmp.data(), scan_bytes, c.emb_counts.data(), c.emb_offsets.data(), rows, compute_stream()),
        "cub::DeviceScan::ExclusiveSum");
  embedding_backward_runs_kernel<<<unsigned(rows), 128, 0, compute_stream()>>>(C, c.emb_unique.data(), c.emb_counts.data(),
                                                          c.emb_offsets.data(), c.emb_runs.data(), c.emb_order.data(),
                                                          dout, dtable);
  check_launch("embedding_backward");
}

void Backend::copy_rows(int rows, int n, RowsView<const float> src, RowsView<float> dst) {
  copy_rows_kernel<<<blocks_for(std::size_t(rows) * n), kThreads, 0, compute_stream()>>>(std::size_t(rows), n, src, dst);
  check_launch("copy_rows");
}

void gemm(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc) {
  gemm_strided(p, ta, tb, M, N, K, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}

// y[M, N] = x[M, K] · W[N, K]ᵀ
// Activations are fp32 on this backend (no bf16_activations): every ActPtr is a float*.
void Backend::linear_forward(Precision p, int M, int N, int K, ActPtr<const float> x, ActPtr<const float> W,
                             ActPtr<float> y) {
  gemm(p, false, true, M, N, K, 1.f, x.scalar(), K, W.scalar(), K, 0.f, y.scalar(), N);
}
// dx = dy · W (=),  dW += dyᵀ · x
void Backend::linear_backward(Precision p, int M, int N, int K, ActPtr<const float> dy, ActPtr<const float> x,
                              ActPtr<const float> W, ActPtr<float> dx, float* dW) {
  gemm(p, false, false, M, K, N, 1.f, dy.scalar(), N, W.scalar(), K, 0.f, dx.scalar(), K);
  gemm(p, true, false, N, K, M, 1.f, dy.scalar(), N, x.scalar(), K, 1.f, dW, K);
}

void Backend::patchify(int B, int height, int width, int channels, int patch, const float* images, float* patches) {
  const std::size_t n = std::size_t(B) * height * width * channels;  // every pixel lands in one patch
  if (n == 0) return;
  patchify_kernel<<<blocks_for(n), kThreads, 0, compute_stream()>>>(n, height, width, channels, patch, images, patches);
  check_launch("patchify");
}
void Backend::bias_forward(int rows, int n, const float* b, float* y) {
  if (rows <= 0 || n <= 0) return;
  bias_forward_kernel<<<blocks_for(std::size_t(rows) * n), kThreads, 0, compute_stream()>>>(std::size_t(rows), n, b, y);
  check_launch("bias_forward");
}
void Backend::bias_backward(int rows, int n, const float* dy, float* db) {
  if (rows <= 0 || n <= 0) return;
  const dim3 block(kBiasColumns, kBiasRowLanes);
  bias_backward_kernel<<<unsigned((n + kBiasColumns - 1) / kBiasColumns), block, 0, compute_stream()>>>(rows, n, dy, db);
  check_launch("bias_backward");
}

// y = bf16(x): the same rounding as the staging of GEMM inputs (bf16_t and __nv_bfloat16 are
// both the 16 bits).
void Backend::round_to_bf16(std::size_t n, const float* x, bf16_t* y) {
  if (n == 0) return;
  static_assert(sizeof(bf16_t) == sizeof(__nv_bfloat16));
  to_bf16_kernel<<<blocks_for(n), kThreads, 0, compute_stream()>>>(x, reinterpret_cast<__nv_bfloat16*>(y), n);
  check_launch("round_to_bf16");
}

// The tables are computed on the host (math/rope.hpp, the CPU's own) and copied.
void Backend::rope_tables(int seq, int head_dim, float* cos_out, float* sin_out) {
  const int half = head_dim / 2;
  std::vector<float> cs(std::size_t(seq) * half), sn(cs.size());
  mixln::rope_tables(seq, head_dim, cs.data(), sn.data());
  copy_h2d(cos_out, cs.data(), cs.size() * sizeof(float));
  copy_h2d(sin_out, sn.data(), sn.size() * sizeof(float));
}

void Backend::rope(bool backward, int B, int seq, int H, int D, ActPtr<float> qkv, const float* cs, const float* sn) {
  const std::size_t n = std::size_t(B) * seq * 2 * H;
  rope_kernel<<<unsigned((n + kThreads - 1) / kThreads), kThreads, 0, compute_stream()>>>(backward, B * seq, seq, H, D,
                                                                                            qkv.scalar(), cs, sn);
  check_launch("rope");
}

// attention_forward, attention_backward: src/cuda/attention.cu (the fused kernels).

void Backend::swiglu_forward(int rows, int I, ActPtr<const float> gu, ActPtr<float> act) {
  swiglu_forward_kernel<<<blocks_for(std::size_t(rows) * I), kThreads, 0, compute_stream()>>>(std::size_t(rows), I,
                                                                                             gu.scalar(), act.scalar());
  check_launch("swiglu_forward");
}
void Backend::swiglu_backward(int rows, int I, ActPtr<const float> gu, ActPtr<const float> dact, ActPtr<float> dgu) {
  swiglu_backward_kernel<<<blocks_for(std::size_t(rows) * I), kThreads, 0, compute_stream()>>>(
      std::size_t(rows), I, gu.scalar(), dact.scalar(), dgu.scalar());
  check_launch("swiglu_backward");
}

// In place only (out == logits, fp32): the engine asks for nothing else on this backend.
void Backend::cross_entropy(int rows, int V, ActPtr<const float> logits, const std::int32_t* labels, int grad_divisor,
                            bool grad, ActPtr<float> out, float* row_loss, double* loss_sum) {
  if (out.raw() != logits.raw() || out.is_bf16() || logits.is_bf16())
    throw Error("cross_entropy: the CUDA backend computes the loss in place on fp32 logits only");
  const float scale = grad_divisor > 0 ? 1.f / float(grad_divisor) : 0.f;
  cross_entropy_kernel<<<rows, kThreads, 0, compute_stream()>>>(V, out.scalar(), labels, scale, grad, row_loss);
  check_launch("cross_entropy");
  add_row_losses_kernel<<<1, kSumThreads, 0, compute_stream()>>>(rows, row_loss, loss_sum);
  check_launch("cross_entropy (loss sum)");
}

void Backend::adam_update(float* p, const float* g, float* m, float* v, const AdamChunk* chunks, int num_chunks,
                          const AdamHyper& h, const double* finite_check) {
  if (num_chunks <= 0) return;
  adam_kernel<<<unsigned(num_chunks), kThreads, 0, compute_stream()>>>(p, g, m, v, chunks, h, finite_check);
  check_launch("adam_update");
}

void Backend::sum_squares(const float* x, std::size_t n, double* out) {
  Context& c = Context::get();
  std::size_t bytes = 0;
  check(cub::DeviceReduce::TransformReduce(nullptr, bytes, x, out, n, SumDouble{}, Square{}, 0.0, compute_stream()),
        "DeviceReduce (size)");
  if (c.reduce_tmp.size() < bytes) c.reduce_tmp.resize(bytes);
  launches.fetch_add(1);
  check(cub::DeviceReduce::TransformReduce(c.reduce_tmp.data(), bytes, x, out, n, SumDouble{}, Square{}, 0.0,
                                           compute_stream()),
        "DeviceReduce");
}

void Backend::clip_to_norm(float* x, std::size_t n, const double* sum_squares, double max_norm) {
  if (max_norm <= 0) return;
  clip_kernel<<<blocks_for(n), kThreads, 0, compute_stream()>>>(x, n, sum_squares, max_norm);
  check_launch("clip_to_norm");
}

}  // namespace mixln::cuda
