// mixln/cuda/backend.hpp — the CUDA backend, as seen from host code.
//
// This header needs no CUDA headers and compiles with the host compiler. Two kinds of ops:
//   - the ops every model needs (GEMMs, attention, RoPE, SwiGLU, the loss, the optimizer):
//     non-template launch wrappers declared here, defined in src/cuda/ops.cu, compiled once by
//     nvcc into the `mixln::cuda` library;
//   - the ops that depend on the model type — boundary_forward<Spec>, norm_rows_forward<Kind>,
//     map_forward<Op>, ... — member templates defined in cuda/kernels.cuh, which this header
//     includes when nvcc compiles it: the translation unit that runs a model on CUDA is compiled
//     by nvcc (a `_cuda` trainer is its source compiled as CUDA) and instantiates exactly the
//     kernels that model needs. Compiled by a host compiler, they stop with a message that
//     says so.
// Per-row and per-element arithmetic is the shared `math/` code the CPU backend runs and the
// tests check.
//
// Precision: fp32 master weights, gradients, moments and activations; GEMMs take bf16
// inputs with fp32 accumulation by default (docs/design.md §3.5), or TF32, or full fp32
// (set_gemm_precision). Norm, softmax and loss statistics are fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "../math/adamw.hpp"
#include "../math/boundary.hpp"
#include "../math/norm_rows.hpp"

namespace mixln::cuda {

// --- runtime (ops.cu) -------------------------------------------------------------------------
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
int device_count();           // the probe's count: 0 when there is no usable GPU; never throws
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

enum class GemmPrecision { fp32, tf32, bf16 };
void set_gemm_precision(GemmPrecision p);
GemmPrecision gemm_precision();
inline GemmPrecision parse_precision(const std::string& s) {
  if (s == "fp32") return GemmPrecision::fp32;
  if (s == "tf32") return GemmPrecision::tf32;
  if (s == "bf16") return GemmPrecision::bf16;
  throw std::invalid_argument("--precision: '" + s + "' is none of fp32, tf32, bf16");
}

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

// --- launch wrappers (ops.cu) -----------------------------------------------------------------
// Each mirrors the CPU op of the same name (cpu/*.hpp); pointers are device pointers.
void embedding_forward(int rows, int C, const std::int32_t* tok, const float* table, float* out);
void embedding_backward(int rows, int C, const std::int32_t* tok, const float* dout, float* dtable);
void copy_rows(int rows, int n, RowsView<const float> src, RowsView<float> dst);
// Row-major C = alpha·op(A)·op(B) + beta·C through cuBLAS, in the current GEMM precision.
void gemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
          int ldb, float beta, float* C, int ldc);
void rope_tables(int seq, int head_dim, float* cos_out, float* sin_out);
void rope(bool backward, int B, int seq, int H, int D, float* qkv, const float* cs, const float* sn);
void attention_forward(int B, int seq, int H, int D, const float* qkv, float* probs, float* out);
void attention_backward(int B, int seq, int H, int D, const float* qkv, const float* probs,
                        const float* dout, float* dprobs, float* dqkv);
void swiglu_forward(int rows, int I, const float* gu, float* act);
void swiglu_backward(int rows, int I, const float* gu, const float* dact, float* dgu);
double cross_entropy(int rows, int V, float* logits, const std::int32_t* labels, int grad_divisor, bool grad,
                     float* row_loss);
void adam_update(float* p, const float* g, float* m, float* v, std::size_t n, const AdamHyper& h, bool decay);
double sum_squares(const float* x, std::size_t n);
void scale(float* x, std::size_t n, float s);

#define MIXLN_CUDA_NEEDS_NVCC                                                                        \
  "cuda::Backend: compile the translation unit that runs a model on CUDA with nvcc (as a .cu file, "  \
  "like the _cuda trainers): the kernels its model needs are compiled with it (cuda/kernels.cuh)"

// The backend tag the engine is instantiated with: Engine<Net, cuda::Backend>.
struct Backend {
  using scalar = float;
  template <class U>
  using buffer = DeviceBuffer<U>;
  static constexpr const char* name = "cuda";
  static constexpr bool host_memory = false;

  static void zero(float* p, std::size_t n) { memset_zero(p, n * sizeof(float)); }
  static void synchronize() { cuda::synchronize(); }
  static std::string describe() { return "cuBLAS on " + device_name(); }
  template <class U>
  static void copy_to_device(U* dst, const U* src, std::size_t n) { copy_h2d(dst, src, n * sizeof(U)); }
  template <class U>
  static void copy_to_host(U* dst, const U* src, std::size_t n) { copy_d2h(dst, src, n * sizeof(U)); }
  static const std::int32_t* stage(DeviceBuffer<std::int32_t>& buf, const std::int32_t* host, std::size_t n) {
    buf.resize(n);
    copy_h2d(buf.data(), host, n * sizeof(std::int32_t));
    return buf.data();
  }

  static void embedding_forward(int rows, int C, const std::int32_t* tok, const float* table, float* out) {
    cuda::embedding_forward(rows, C, tok, table, out);
  }
  static void embedding_backward(int rows, int C, const std::int32_t* tok, const float* dout, float* dt) {
    cuda::embedding_backward(rows, C, tok, dout, dt);
  }
  // --- ops that depend on the model type: defined in cuda/kernels.cuh ----------------------
  // The spec (kind, op) names the kernel instantiation; nothing branches on it at run time.
#if defined(__CUDACC__)
  template <class Spec>
  static void boundary_forward(int rows, int n, const BoundaryArgs<Spec, float>& b);
  template <class Spec>
  static void boundary_backward(int rows, int n, const BoundaryArgs<Spec, float>& b,
                                const BoundaryGradArgs<Spec, float>& g);
  template <class Kind>
  static void norm_rows_forward(int rows, int n, RowsView<const float> x, RowsView<float> y, float* const* w,
                                float* stats);
  template <class Kind>
  static void norm_rows_backward(int rows, int n, RowsView<const float> x, const float* stats, float* const* w,
                                 RowsView<const float> dy, RowsView<float> dx, float* const* dw, float* partials);
  template <class Op>
  static void map_forward(std::size_t n, const float* x, float* y);
  template <class Op>
  static void map_backward(std::size_t n, const float* x, const float* dy, float* dx);
#else
  template <class Spec>
  static void boundary_forward(int, int, const BoundaryArgs<Spec, float>&) {
    static_assert(sizeof(Spec) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
  template <class Spec>
  static void boundary_backward(int, int, const BoundaryArgs<Spec, float>&, const BoundaryGradArgs<Spec, float>&) {
    static_assert(sizeof(Spec) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
  template <class Kind>
  static void norm_rows_forward(int, int, RowsView<const float>, RowsView<float>, float* const*, float*) {
    static_assert(sizeof(Kind) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
  template <class Kind>
  static void norm_rows_backward(int, int, RowsView<const float>, const float*, float* const*, RowsView<const float>,
                                 RowsView<float>, float* const*, float*) {
    static_assert(sizeof(Kind) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
  template <class Op>
  static void map_forward(std::size_t, const float*, float*) {
    static_assert(sizeof(Op) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
  template <class Op>
  static void map_backward(std::size_t, const float*, const float*, float*) {
    static_assert(sizeof(Op) == 0, MIXLN_CUDA_NEEDS_NVCC);
  }
#endif
  static void copy_rows(int rows, int n, RowsView<const float> src, RowsView<float> dst) {
    cuda::copy_rows(rows, n, src, dst);
  }
  // y[M, N] = x[M, K] · W[N, K]ᵀ
  static void linear_forward(int M, int N, int K, const float* x, const float* W, float* y) {
    gemm(false, true, M, N, K, 1.f, x, K, W, K, 0.f, y, N);
  }
  // dx = dy · W (=),  dW += dyᵀ · x
  static void linear_backward(int M, int N, int K, const float* dy, const float* x, const float* W, float* dx,
                              float* dW) {
    gemm(false, false, M, K, N, 1.f, dy, N, W, K, 0.f, dx, K);
    gemm(true, false, N, K, M, 1.f, dy, N, x, K, 1.f, dW, K);
  }
  static void rope_tables(int seq, int D, float* cs, float* sn) { cuda::rope_tables(seq, D, cs, sn); }
  template <bool Backward>
  static void rope(int B, int seq, int H, int D, float* qkv, const float* cs, const float* sn) {
    cuda::rope(Backward, B, seq, H, D, qkv, cs, sn);
  }
  static void attention_forward(int B, int seq, int H, int D, const float* qkv, float* probs, float* out) {
    cuda::attention_forward(B, seq, H, D, qkv, probs, out);
  }
  static void attention_backward(int B, int seq, int H, int D, const float* qkv, const float* probs,
                                 const float* dout, float* dprobs, float* dqkv) {
    cuda::attention_backward(B, seq, H, D, qkv, probs, dout, dprobs, dqkv);
  }
  static void swiglu_forward(int rows, int I, const float* gu, float* act) { cuda::swiglu_forward(rows, I, gu, act); }
  static void swiglu_backward(int rows, int I, const float* gu, const float* dact, float* dgu) {
    cuda::swiglu_backward(rows, I, gu, dact, dgu);
  }
  static double cross_entropy(int rows, int V, float* logits, const std::int32_t* labels, int grad_divisor,
                              bool grad, float* row_loss) {
    return cuda::cross_entropy(rows, V, logits, labels, grad_divisor, grad, row_loss);
  }
  static void adam_update(float* p, const float* g, float* m, float* v, std::size_t n, const AdamHyper& h,
                          bool decay) {
    cuda::adam_update(p, g, m, v, n, h, decay);
  }
  static double sum_squares(const float* x, std::size_t n) { return cuda::sum_squares(x, n); }
  static void scale(float* x, std::size_t n, float s) { cuda::scale(x, n, s); }
};

}  // namespace mixln::cuda

#if defined(__CUDACC__)
#include "kernels.cuh"
#endif
