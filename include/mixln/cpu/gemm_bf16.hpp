// mixln/cpu/gemm_bf16.hpp — row-major GEMM with bf16 inputs and fp32 accumulation, the CPU
// twin of the CUDA backend's bf16 mode (src/cuda/ops.cu, gemm_strided):
//
//   C[M, N] = alpha · (bf16(op(A)) · bf16(op(B))) + beta · C        accumulation and C in fp32
//
// bf16() rounds to nearest even (math/half.hpp, float_to_bf16), as __float2bfloat16_rn does on
// the GPU: both backends round every GEMM input. The CPU also stores GEMM-operand activations in
// bf16 (docs/design.md §3.5), which the CUDA backend does not yet: there it rounds at more points.
//
// Two ways to compute it, chosen once per process (bf16_gemm_native()):
//  - oneDNN (MIXLN_WITH_DNNL, the CPU has avx512_bf16): the inputs are converted to
//    dense bf16 copies and multiplied by a oneDNN matmul primitive with bf16 dot-product
//    instructions; primitives are created once per shape and kept (a training step has a
//    fixed set of shapes).
//  - emulated (no oneDNN, or a CPU without bf16 instructions): the inputs are rounded to bf16
//    but kept as fp32 and multiplied by sgemm. Products of two bf16 values are exact in fp32,
//    so this differs from the native path only in the order of the fp32 sums; it is slower
//    than --precision fp32 (the rounding copies come on top), and says so. MIXLN_BF16_EMULATE=1
//    chooses it on any CPU (the tests compare the two).
//
// Besides gemm_bf16: multiply_rounded (operands already rounded, for callers that round an
// operand once and use it in several products: attention.hpp per head), and the linear ops over
// activations stored in fp32 or bf16 (act_ptr.hpp): linear_forward_bf16, linear_backward_bf16 (dy
// rounded once for dx and dW). A bf16 activation is a GEMM operand as it is: no rounding copy.
#pragma once

#include <cblas.h>
#include <omp.h>
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__CUDACC__)
#include <immintrin.h>
#endif

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <string>
#include <vector>

#include "../act_ptr.hpp"
#include "../math/half.hpp"
#include "aligned_scratch.hpp"

// oneDNN where the build found it (MIXLN_WITH_DNNL), except in translation units nvcc compiles:
// nvcc 13's front end stops with an internal error on oneDNN's C++ header, so there (the CPU
// references of test_cuda, a `_cuda` trainer's host code) bf16 is emulated — the same rounding
// points.
#if defined(MIXLN_WITH_DNNL) && !defined(__CUDACC__)
#define MIXLN_CPU_DNNL 1
#endif

#if defined(MIXLN_CPU_DNNL)
#include <oneapi/dnnl/dnnl.hpp>

#include <mutex>
#include <unordered_map>
#endif

namespace mixln::cpu {

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define MIXLN_X86_BF16_ROWS 1
// Rounds the first multiple of 32 of n values with vcvtne2ps2bf16 (AVX512_BF16; compiled for it
// whatever -march says, called only where the CPU has it) and returns how many it did. The
// instruction rounds to nearest even as float_to_bf16 does but flushes subnormal inputs to zero:
// a block holding one is left to float_to_bf16, so the bits are always float_to_bf16's.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline int round_row_to_bf16_avx512(int n, const float* x,
                                                                                          std::uint16_t* o) {
  const __m512i exponent = _mm512_set1_epi32(0x7f800000), magnitude = _mm512_set1_epi32(0x7fffffff);
  int c = 0;
  for (; c + 32 <= n; c += 32) {
    const __m512i lo = _mm512_loadu_si512(x + c), hi = _mm512_loadu_si512(x + c + 16);
    const __mmask16 sub_lo = _mm512_mask_test_epi32_mask(_mm512_testn_epi32_mask(lo, exponent), lo, magnitude);
    const __mmask16 sub_hi = _mm512_mask_test_epi32_mask(_mm512_testn_epi32_mask(hi, exponent), hi, magnitude);
    if (sub_lo | sub_hi) {
      for (int k = c; k < c + 32; ++k) o[k] = float_to_bf16(x[k]);
      continue;
    }
    const __m512bh r = _mm512_cvtne2ps_pbh(_mm512_castsi512_ps(hi), _mm512_castsi512_ps(lo));
    _mm512_storeu_si512(o + c, reinterpret_cast<const __m512i&>(r));
  }
  return c;
}
#endif

// Whether this CPU has AVX512_BF16 (bf16 dot products and conversions).
inline bool cpu_has_avx512_bf16() {
#if defined(MIXLN_X86_BF16_ROWS)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") != 0;
  }();
  return has;
#else
  return false;
#endif
}

// One row of bf16 bits: float_to_bf16 of each value; 32 at a time with AVX512_BF16 where the
// CPU has it (2.2x the portable loop on a 32 MB array, docs/performance.md).
inline void round_row_to_bf16(int n, const float* x, std::uint16_t* o) {
  int c = 0;
#if defined(MIXLN_X86_BF16_ROWS)
  if (cpu_has_avx512_bf16()) c = round_row_to_bf16_avx512(n, x, o);
#endif
  for (; c < n; ++c) o[c] = float_to_bf16(x[c]);
}

// Copies X ([rows, cols] stored with leading dimension ld) into a dense [rows, cols] array,
// each value rounded to bf16: bits (Out = uint16_t) or the rounded fp32 value (Out = float).
// The layout is kept (a transposed operand stays transposed): the copy streams through memory.
// Large copies made outside a parallel region use every thread (a GEMM's own threads would
// otherwise wait for a one-thread copy: measured 8.6% of a small_mixln bf16 step).
template <class Out>
void round_to_bf16_dense(int rows, int cols, const float* X, int ld, Out* out) {
  const bool parallel = std::size_t(rows) * cols >= (std::size_t(1) << 15) && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < rows; ++r) {
    const float* x = X + std::size_t(r) * ld;
    Out* o = out + std::size_t(r) * cols;
    if constexpr (sizeof(Out) == 2)
      round_row_to_bf16(cols, x, o);
    else
      for (int c = 0; c < cols; ++c) o[c] = bf16_to_float(float_to_bf16(x[c]));
  }
}

// C = alpha·op(a)·op(b) + beta·C for operands already rounded and dense (a stored [M, K], or
// [K, M] when ta; b stored [K, N], or [N, K] when tb): Out = float multiplies through sgemm (the
// emulated path), Out = uint16_t (bf16 bits) through oneDNN (below).
template <class Out>
void multiply_rounded(bool ta, bool tb, int M, int N, int K, float alpha, const Out* a, const Out* b, float beta,
                      float* C, int ldc);

template <>
inline void multiply_rounded<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* a,
                                    const float* b, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, a,
              ta ? M : K, b, tb ? K : N, beta, C, ldc);
}

// Rounds both operands into this thread's scratch (slots 0 and 1 of Out) and multiplies.
template <class Out>
void gemm_rounded(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                  int ldb, float beta, float* C, int ldc) {
  Out* a = scratch<Out>(0, std::size_t(M) * K);
  Out* b = scratch<Out>(1, std::size_t(K) * N);
  round_to_bf16_dense(ta ? K : M, ta ? M : K, A, lda, a);
  round_to_bf16_dense(tb ? N : K, tb ? K : N, B, ldb, b);
  multiply_rounded<Out>(ta, tb, M, N, K, alpha, a, b, beta, C, ldc);
}

// The emulated path (also the reference the tests compare the native one with).
inline void gemm_bf16_emulated(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                               const float* B, int ldb, float beta, float* C, int ldc) {
  gemm_rounded<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#if defined(MIXLN_CPU_DNNL)

namespace dnnl_detail {

struct Shape {
  bool ta, tb;  // A stored [K, M], B stored [N, K]
  int M, N, K, ldc;
  float alpha, beta;
  bool c16 = false;  // C in bf16 (rounded to nearest even from the fp32 accumulator), else fp32
  bool operator==(const Shape&) const = default;
};
struct ShapeHash {
  std::size_t operator()(const Shape& s) const noexcept {
    std::size_t h = std::size_t(s.ta) * 2 + std::size_t(s.tb) + std::size_t(s.c16) * 4;
    for (std::uint64_t v : {std::uint64_t(s.M), std::uint64_t(s.N), std::uint64_t(s.K), std::uint64_t(s.ldc),
                            std::uint64_t(float_bits(s.alpha)), std::uint64_t(float_bits(s.beta))})
      h = (h ^ v) * 0x100000001b3ull;
    return h;
  }
};

// The engine and one matmul primitive per shape: src [M, K] and weights [K, N] dense bf16, dst
// [M, N] fp32 with row stride ldc (op(A), op(B) dense, transposed in place by their strides); alpha as the output scale, beta as a sum post-op.
class Matmuls {
 public:
  static Matmuls& get() {
    static Matmuls m;
    return m;
  }
  const dnnl::engine& engine() const { return engine_; }
  struct Prim {
    dnnl::matmul matmul;
    std::size_t scratchpad_bytes;
  };
  const Prim& find(const Shape& s) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = prims_.find(s);
    if (it == prims_.end()) {
      const dnnl::matmul::primitive_desc d = pd(s);
      it = prims_.emplace(s, Prim{dnnl::matmul(d), d.scratchpad_desc().get_size()}).first;
    }
    return it->second;
  }
  // The implementation oneDNN chose for a shape ("brg:avx512_core_bf16", ...), for tests and docs.
  std::string implementation(const Shape& s) { return pd(s).impl_info_str(); }

 private:
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  dnnl::matmul::primitive_desc pd(const Shape& s) const {
    const dnnl::memory::desc a = operand(s.M, s.K, s.ta), b = operand(s.K, s.N, s.tb);
    const dnnl::memory::desc c({s.M, s.N}, s.c16 ? dt::bf16 : dt::f32, dims{s.ldc, 1});
    dnnl::primitive_attr attr;
    // Our own scratchpad per call: oneDNN's shared one is not safe when primitives run
    // concurrently (attention issues its GEMMs from an OpenMP loop), unless oneDNN was built
    // with DNNL_ENABLE_CONCURRENT_EXEC, which Debian's is not.
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (s.alpha != 1.f) attr.set_output_scales(0, {s.alpha});
    if (s.beta != 0.f) {
      dnnl::post_ops po;
      po.append_sum(s.beta);
      attr.set_post_ops(po);
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), attr, engine_);
  }
 public:
  // A dense bf16 operand [rows, cols], stored transposed ([cols, rows]) when trans.
  static dnnl::memory::desc operand(int rows, int cols, bool trans) {
    return {{rows, cols}, dt::bf16, trans ? dims{1, rows} : dims{cols, 1}};
  }
 private:

  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  std::mutex mutex_;
  std::unordered_map<Shape, Prim, ShapeHash> prims_;
};

}  // namespace dnnl_detail

// C (fp32, or bf16 bits when c16) = alpha·op(a)·op(b) + beta·C through oneDNN.
inline void multiply_bf16_native(bool ta, bool tb, int M, int N, int K, float alpha, const std::uint16_t* a,
                                 const std::uint16_t* b, float beta, void* C, int ldc, bool c16) {
  using dnnl_detail::Matmuls;
  using dt = dnnl::memory::data_type;
  using dims = dnnl::memory::dims;
  Matmuls& mm = Matmuls::get();
  const Matmuls::Prim& prim = mm.find({ta, tb, M, N, K, ldc, alpha, beta, c16});
  const dnnl::engine& eng = mm.engine();
  dnnl::memory am(Matmuls::operand(M, K, ta), eng, const_cast<std::uint16_t*>(a));
  dnnl::memory bm(Matmuls::operand(K, N, tb), eng, const_cast<std::uint16_t*>(b));
  dnnl::memory cm({{M, N}, c16 ? dt::bf16 : dt::f32, dims{ldc, 1}}, eng, C);
  dnnl::memory pad({{dnnl::memory::dim(prim.scratchpad_bytes)}, dt::u8, dims{1}}, eng,
                   scratch<std::uint8_t>(0, prim.scratchpad_bytes));
  thread_local dnnl::stream stream(eng);
  prim.matmul.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, pad}});
  stream.wait();
}

template <>
inline void multiply_rounded<std::uint16_t>(bool ta, bool tb, int M, int N, int K, float alpha, const std::uint16_t* a,
                                            const std::uint16_t* b, float beta, float* C, int ldc) {
  multiply_bf16_native(ta, tb, M, N, K, alpha, a, b, beta, C, ldc, false);
}

#endif

// True: emulate bf16 GEMMs even where they could run natively (MIXLN_BF16_EMULATE set, or a
// test comparing the two paths).
inline bool& bf16_force_emulation() {
  static bool force = std::getenv("MIXLN_BF16_EMULATE") != nullptr;
  return force;
}

// How bf16 GEMMs run in this process: natively through oneDNN, or emulated (see the top).
inline bool bf16_gemm_native() {
#if defined(MIXLN_CPU_DNNL)
  // Every x86 CPU with AMX-BF16 has AVX512_BF16 too; oneDNN picks AMX itself where present.
  static const bool hardware = cpu_has_avx512_bf16();
  return hardware && !bf16_force_emulation();
#else
  return false;
#endif
}

// "oneDNN 2.6.3, brg:avx512_core_bf16" or "emulated (...)": for `bench` records and the note a
// trainer prints when bf16 is chosen.
inline std::string bf16_gemm_description() {
#if defined(MIXLN_CPU_DNNL)
  if (bf16_gemm_native()) {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
           ", " + dnnl_detail::Matmuls::get().implementation({false, true, 256, 256, 256, 256, 1.f, 0.f});
  }
  if (bf16_force_emulation()) return "emulated (MIXLN_BF16_EMULATE is set): bf16-rounded inputs through sgemm";
  return "emulated (this CPU has no avx512_bf16 or AMX): bf16-rounded inputs through sgemm, slower than fp32";
#elif defined(MIXLN_WITH_DNNL)
  return "emulated (compiled by nvcc, which cannot parse oneDNN's header): bf16-rounded inputs through sgemm";
#else
  return "emulated (built without oneDNN, MIXLN_WITH_DNNL): bf16-rounded inputs through sgemm, slower than fp32";
#endif
}

// Calls f(Out{}) with the operand type of this process's bf16 engine: std::uint16_t (bf16 bits,
// oneDNN) or float (rounded values through sgemm, the emulation).
template <class F>
void with_bf16_operands(F&& f) {
#if defined(MIXLN_CPU_DNNL)
  if (bf16_gemm_native()) return f(std::uint16_t{});
#endif
  f(float{});
}

inline void gemm_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                      int ldb, float beta, float* C, int ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) return gemm_bf16_emulated(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);  // C = β·C
  with_bf16_operands([&](auto out) {
    gemm_rounded<decltype(out)>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  });
}

// --- activations stored in bf16 (act_ptr.hpp) ---------------------------------------------------
// Scratch slots: 0–2 the GEMM operands above, 3–6 attention (attention.hpp), 7 a bf16 output's
// fp32 product (multiply_into), 8–10 attention's fp32 dQ, dK, dV.

// Copies the activation X ([rows, cols], leading dimension ld, fp32 or bf16) into a dense
// [rows, cols] bf16 operand: fp32 is rounded (round_to_bf16_dense); bf16 is copied as it is
// (Out = bits) or widened exactly (Out = float, the emulation).
template <class Out>
void copy_operand(int rows, int cols, ActPtr<const float> X, int ld, Out* out) {
  if (!X.is_bf16()) return round_to_bf16_dense(rows, cols, X.scalar(), ld, out);
  const bf16_t* x = X.bf16();
  const bool parallel = std::size_t(rows) * cols >= (std::size_t(1) << 15) && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < rows; ++r) {
    const bf16_t* xr = x + std::size_t(r) * ld;
    Out* o = out + std::size_t(r) * cols;
    if constexpr (sizeof(Out) == 2)
      std::memcpy(o, xr, std::size_t(cols) * sizeof(Out));
    else
      for (int c = 0; c < cols; ++c) o[c] = to_float(xr[c]);
  }
}

// X as a dense bf16 operand: in place where the native path can read it (bf16 bits, ld == cols),
// else copied into this thread's scratch slot `slot`.
template <class Out>
const Out* bf16_operand(int slot, int rows, int cols, ActPtr<const float> X, int ld) {
  if constexpr (sizeof(Out) == 2)
    if (X.is_bf16() && ld == cols) return reinterpret_cast<const Out*>(X.bf16());
  Out* o = scratch<Out>(slot, std::size_t(rows) * cols);
  copy_operand<Out>(rows, cols, X, ld, o);
  return o;
}

// Rounds the fp32 rows x [rows, cols] (ld ldx) into the bf16 rows o (ld ldo).
inline void round_rows_to_bf16(int rows, int cols, const float* x, int ldx, bf16_t* o, int ldo) {
  const bool parallel = std::size_t(rows) * cols >= (std::size_t(1) << 15) && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < rows; ++r)
    round_row_to_bf16(cols, x + std::size_t(r) * ldx, reinterpret_cast<std::uint16_t*>(o + std::size_t(r) * ldo));
}

// C = alpha·op(a)·op(b) into an activation C (ld ldc): fp32 straight from the GEMM; bf16 rounded
// to nearest even from the fp32 accumulator (by oneDNN on the native path, from the fp32 product
// on the emulated one).
template <class Out>
void multiply_into(bool ta, bool tb, int M, int N, int K, float alpha, const Out* a, const Out* b, ActPtr<float> C,
                   int ldc) {
  if (!C.is_bf16()) return multiply_rounded<Out>(ta, tb, M, N, K, alpha, a, b, 0.f, C.scalar(), ldc);
#if defined(MIXLN_CPU_DNNL)
  if constexpr (sizeof(Out) == 2) return multiply_bf16_native(ta, tb, M, N, K, alpha, a, b, 0.f, C.bf16(), ldc, true);
#endif
  float* product = scratch<float>(7, std::size_t(M) * N);
  multiply_rounded<Out>(ta, tb, M, N, K, alpha, a, b, 0.f, product, N);
  round_rows_to_bf16(M, N, product, N, C.bf16(), ldc);
}

// y[M, N] = x[M, K]·W[N, K]ᵀ with bf16 inputs, x and y fp32 or bf16 activations.
inline void linear_forward_bf16(int M, int N, int K, ActPtr<const float> x, ActPtr<const float> W, ActPtr<float> y) {
  if (M == 0 || N == 0) return;
  if (K == 0) {  // y = 0
    for (int r = 0; r < M; ++r)
      if (y.is_bf16()) std::memset(static_cast<void*>(y.bf16() + std::size_t(r) * N), 0, std::size_t(N) * 2);
      else std::memset(y.scalar() + std::size_t(r) * N, 0, std::size_t(N) * sizeof(float));
    return;
  }
  with_bf16_operands([&](auto o) {
    using Out = decltype(o);
    const Out* a = bf16_operand<Out>(0, M, K, x, K);
    const Out* b = bf16_operand<Out>(1, N, K, W, K);
    multiply_into<Out>(false, true, M, N, K, 1.f, a, b, y, N);
  });
}

// dx[M, K] = dy[M, N]·W[N, K] (=), dW[N, K] += dy[M, N]ᵀ·x[M, K], bf16 inputs, dy rounded once for both.
inline void linear_backward_bf16(int M, int N, int K, ActPtr<const float> dy, ActPtr<const float> x,
                                 ActPtr<const float> W, ActPtr<float> dx, float* dW) {
  if (M == 0 || N == 0 || K == 0) return;
  with_bf16_operands([&](auto o) {
    using Out = decltype(o);
    const Out* dy16 = bf16_operand<Out>(2, M, N, dy, N);
    multiply_into<Out>(false, false, M, K, N, 1.f, dy16, bf16_operand<Out>(1, N, K, W, K), dx, K);
    multiply_rounded<Out>(true, false, N, K, M, 1.f, dy16, bf16_operand<Out>(1, M, K, x, K), 1.f, dW, K);
  });
}

}  // namespace mixln::cpu
