// mixln/cuda/backend.hpp — the CUDA backend, as seen from host code.
//
// This header needs no CUDA headers and compiles with the host compiler. The Backend's ops are
// declared here from the lists of backend_ops.hpp, once each; two kinds:
//   - the ops every model needs (GEMMs, attention, RoPE, SwiGLU, the loss, the optimizer):
//     static members defined in src/cuda/ops.cu, compiled once by nvcc into the `mixln::cuda`
//     library;
//   - the ops that depend on the model type — boundary_forward<Spec>, norm_rows_forward<Kind>,
//     map_forward<Op>, ... — member templates defined in cuda/kernels.cuh, which this header
//     includes when nvcc compiles it: the translation unit that runs a model on CUDA is compiled
//     by nvcc (a `_cuda` trainer is its source compiled as CUDA) and instantiates exactly the
//     kernels that model needs. Compiled by a host compiler, they stop with a message that
//     says so (the static_assert MIXLN_CUDA_DECLARE_MODEL_OP writes for a host compiler).
// Per-row and per-element arithmetic is the shared `math/` code the CPU backend runs and the
// tests check.
//
// Precision: fp32 master weights, gradients, moments and activations; GEMMs take bf16
// inputs with fp32 accumulation by default (docs/design.md §3.5), or TF32, or full fp32
// (the Precision the GEMM ops are given: mixln/precision.hpp). Norm, softmax and loss statistics
// are fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../backend_ops.hpp"
#include "../math/adamw.hpp"
#include "../math/boundary.hpp"
#include "../math/norm_rows.hpp"
#include "../precision.hpp"

namespace mixln::cuda {

// --- runtime (src/cuda/ops.cu) -------------------------------------------------------------------------
// What the CUDA runtime says about this machine: how many devices, or why none can be used. No
// driver at all (a machine without a GPU) and no device are told apart from a driver too old for
// this runtime or a broken installation, which must not pass for "no GPU".
struct DeviceProbe {
  int count = 0;
  int error = 0;  // the cudaError_t of cudaGetDeviceCount (0: success)
  std::string error_name, error_text;
  int driver_version = 0;   // cudaDriverGetVersion, e.g. 12020; 0: no driver installed
  int runtime_version = 0;  // cudaRuntimeGetVersion, e.g. 13000
  bool usable() const { return count > 0; }
  // A machine without a GPU: no driver (cudaErrorInsufficientDriver with driver version 0), or
  // the runtime reports no device. The toolkit's link-time libcuda stub found at run time
  // (cudaErrorStubLibrary) or an old driver is a broken installation, not a machine without a GPU.
  bool absent() const {
    return count == 0 && ((driver_version == 0 && error == 35 /* cudaErrorInsufficientDriver */) ||
                          error == 100 /* cudaErrorNoDevice */);
  }
  std::string describe() const;  // one line: the count, or the error; the versions
};
DeviceProbe probe_devices();  // never throws
std::string device_name();    // the current device's name
void set_device(int device);  // cudaSetDevice, checked
int current_device();
void* device_malloc(std::size_t bytes);
void device_free(void* p) noexcept;
void memset_zero(void* p, std::size_t bytes);
void copy_h2d(void* dst, const void* src, std::size_t bytes);
void copy_d2h(void* dst, const void* src, std::size_t bytes);
void synchronize();
// Throws mixln::Error naming `what` if the last kernel launch failed.
void check_launch(const char* what);

// Host data a step reads (tokens, labels) goes through a pinned buffer kept per destination:
// stage_host copies it there (first waiting until the last staged copy has read the buffer: the
// host runs at most one micro-step ahead of the device), stage_copy issues the asynchronous copy
// on the compute stream. Inside a capture stage_copy does nothing: the copies stay out of the
// graph and are issued before each launch (Backend::restage).
void stage_host(const void* dst, const void* src, std::size_t bytes);
void stage_copy(void* dst, std::size_t bytes);
// CUDA graphs of the compute stream (schedule/step_graphs.hpp): capture, instantiate, replay.
bool graphs_usable();     // false under MIXLN_CUDA_SYNC=1 (every launch waits, nothing to capture)
void begin_capture();     // relaxed mode
void* end_capture();      // the instantiated graph (a cudaGraphExec_t)
void abort_capture() noexcept;  // after a failure inside a capture: leaves capture mode
void launch_graph(void* exec);
void destroy_graph(void* exec) noexcept;
// Changes whenever device or pinned memory is freed: a graph captured before may point into it.
unsigned long long memory_epoch();
// `--cuda-graph on|off` (on by default): whether micro-steps may be captured and replayed.
void set_graphs_enabled(bool on);

// --- measurement (bench) ---------------------------------------------------------------------
// Device memory mixln allocated (DeviceBuffer, device_malloc): now and at most since the start
// or the last reset (cuBLAS's and CUB's own allocations through device_malloc included; the
// CUDA context's not).
struct MemoryStats {
  std::size_t current = 0, peak = 0;
};
MemoryStats memory_stats();
void reset_peak_memory();
// Work issued on the compute stream since the start: kernels mixln launches (one per
// check_launch), cuBLAS calls, CUB algorithm calls (one each, though one may run a few kernels),
// memsets and staged copies.
long long launch_count();
// The nodes of the last captured micro-step graph: all of them, and its kernels.
struct GraphNodes {
  long long total = 0, kernels = 0;
};
GraphNodes last_graph_nodes();
// What this GPU reaches: a bf16 GEMM of n³ (fp32 accumulation and output, cuBLAS) in TFLOP/s,
// and a device-to-device copy of `bytes` in GB/s counting the bytes read and written (median of
// five runs after a warm-up each).
struct Ceilings {
  double gemm_tflops = 0, copy_gbs = 0;
};
Ceilings measure_ceilings(int n = 8192, std::size_t bytes = std::size_t(1) << 30);
// The nominal dense bf16 peak of the current device from its name (H100/H200: 989 TFLOP/s, A100:
// 312, ...), 0 when unknown.
double nominal_bf16_flops();

// Times between marks on the compute stream (CUDA events).
class EventTimer {
 public:
  EventTimer() = default;
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  ~EventTimer();
  void mark();                          // an event at this point of the stream
  std::vector<double> intervals_ms();   // waits for the last mark; the times between marks; clears

 private:
  std::vector<void*> events_;
  std::size_t used_ = 0;
};

// An owning device allocation of n elements.
template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) { resize(n); }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { device_free(p_); }

  void resize(std::size_t n) {
    if (n == n_) return;
    device_free(p_);
    p_ = nullptr;
    n_ = 0;
    if (n) {
      p_ = static_cast<T*>(device_malloc(n * sizeof(T)));
      n_ = n;
    }
  }
  void zero() {
    if (n_) memset_zero(p_, n_ * sizeof(T));
  }
  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// Row-major C = alpha·op(A)·op(B) + beta·C through cuBLAS, in precision p (src/cuda/ops.cu).
void gemm(Precision p, bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);

#define MIXLN_CUDA_NEEDS_NVCC                                                                        \
  "cuda::Backend: compile the translation unit that runs a model on CUDA with nvcc (as a .cu file, "  \
  "like the _cuda trainers): the kernels its model needs are compiled with it (cuda/kernels.cuh)"

// Declares one op of the lists in backend_ops.hpp as a static member (defined in src/cuda/ops.cu).
#define MIXLN_CUDA_DECLARE_OP(R, name, params) static R name params;
// Declares one model-dependent op as a member template: defined in cuda/kernels.cuh under nvcc;
// under a host compiler, a body whose static_assert stops compilation with MIXLN_CUDA_NEEDS_NVCC
// when instantiated (a model run on CUDA must be compiled by nvcc).
#if defined(__CUDACC__)
#define MIXLN_CUDA_DECLARE_MODEL_OP(P, name, params) \
  template <class P>                                 \
  static void name params;
#else
#define MIXLN_CUDA_DECLARE_MODEL_OP(P, name, params)      \
  template <class P>                                      \
  static void name params {                               \
    static_assert(sizeof(P) == 0, MIXLN_CUDA_NEEDS_NVCC); \
  }
#endif

// The backend tag the engine is instantiated with: Engine<Net, cuda::Backend>.
struct Backend {
  using scalar = float;
  using T = float;  // the scalar, as the op lists name it
  template <class U>
  using buffer = DeviceBuffer<U>;
  static constexpr const char* name = "cuda";
  static constexpr bool host_memory = false;
  // GEMM input precisions, the default first.
  static constexpr Precision precisions[] = {Precision::bf16, Precision::tf32, Precision::fp32};

  template <class U>
  static void zero(U* p, std::size_t n) { memset_zero(p, n * sizeof(U)); }
  static void synchronize() { cuda::synchronize(); }
  static std::string describe(Precision) { return "cuBLAS on " + device_name(); }
  template <class U>
  static void copy_to_device(U* dst, const U* src, std::size_t n) { copy_h2d(dst, src, n * sizeof(U)); }
  template <class U>
  static void copy_to_host(U* dst, const U* src, std::size_t n) { copy_d2h(dst, src, n * sizeof(U)); }
  // The input (tokens, pixels) and labels: through pinned memory, asynchronously on the compute
  // stream.
  template <class U>
  static const U* stage(DeviceBuffer<U>& buf, const U* host, std::size_t n) {
    buf.resize(n);
    stage_host(buf.data(), host, n * sizeof(U));
    stage_copy(buf.data(), n * sizeof(U));
    return buf.data();
  }

  // CUDA graphs (schedule/step_graphs.hpp): a micro-step captured once and replayed. Before each
  // launch the host stages the micro-step's data with restage: into the pinned buffer, then the
  // copy on the stream (the graph reads the device buffer; the copies are not in it).
  template <class U>
  static void restage(DeviceBuffer<U>& buf, const U* host, std::size_t n) {
    stage_host(buf.data(), host, n * sizeof(U));
    stage_copy(buf.data(), n * sizeof(U));
  }
  static bool graphs_usable() { return cuda::graphs_usable(); }
  static void begin_capture() { cuda::begin_capture(); }
  static void* end_capture() { return cuda::end_capture(); }
  static void abort_capture() noexcept { cuda::abort_capture(); }
  static void launch_graph(void* g) { cuda::launch_graph(g); }
  static void destroy_graph(void* g) noexcept { cuda::destroy_graph(g); }
  static unsigned long long memory_epoch() { return cuda::memory_epoch(); }
  // What `bench` measures on a GPU (cli/cmd_bench.hpp).
  using Timer = EventTimer;
  static long long launch_count() { return cuda::launch_count(); }
  static GraphNodes last_graph_nodes() { return cuda::last_graph_nodes(); }
  static MemoryStats memory_stats() { return cuda::memory_stats(); }
  static Ceilings measure_ceilings() { return cuda::measure_ceilings(); }
  static double nominal_bf16_flops() { return cuda::nominal_bf16_flops(); }

  // The ops every model needs (src/cuda/ops.cu), each mirroring the CPU op of the same name
  // (cpu/*.hpp); pointers are device pointers.
  MIXLN_BACKEND_DENSE_OPS(MIXLN_CUDA_DECLARE_OP)
  MIXLN_BACKEND_OPTIMIZER_OPS(MIXLN_CUDA_DECLARE_OP)
  // The ops that depend on the model type (cuda/kernels.cuh): the spec (kind, op) names the
  // kernel instantiation; nothing branches on it at run time.
  MIXLN_BACKEND_MODEL_OPS(MIXLN_CUDA_DECLARE_MODEL_OP)
};

#undef MIXLN_CUDA_DECLARE_OP
#undef MIXLN_CUDA_DECLARE_MODEL_OP

}  // namespace mixln::cuda

#if defined(__CUDACC__)
#include "kernels.cuh"
#endif
