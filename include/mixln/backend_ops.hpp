// mixln/backend_ops.hpp — the backend ops, listed once.
//
// Each line is one op: X(return type, name, (parameters)) with T the backend's scalar; a
// model-dependent op takes one template parameter, a type (X(P, name, (parameters)) with P the
// BoundarySpec, the norm kind or the elementwise functor). From these lists follow:
//   - the concept a backend meets (schedule/backend_concept.hpp): each op, with this signature,
//     by group, so that a backend lacking one is told which group;
//   - cuda::Backend's declarations (cuda/backend.hpp), and for the model-dependent ops the
//     host-compiler guards: a static_assert saying that the model's translation unit must be
//     compiled by nvcc.
// cpu::Backend<T> declares nothing: it inherits its op families (cpu/*.hpp), whose static
// members are the kernels themselves.
//
// Adding an op: 3 places and a line (before: 7 places, 8 for a model-dependent op — the math
// row, the CPU kernel, the CPU backend's forwarding wrapper, a free-function declaration in
// cuda/backend.hpp, the CUDA Backend's wrapper, the CUDA kernel and its launch, the concept
// with its message, and for a model-dependent op the host-compiler guard):
//   1. the per-row or per-element arithmetic: a MIXLN_HD function in math/;
//   2. the CPU kernel: a static member of an op family in cpu/*.hpp (a new family is one more
//      base of cpu::Backend, cpu/backend.hpp);
//   3. the CUDA kernel and its launch: `R Backend::name(...)` in src/cuda/ops.cu for an op every
//      model uses, or a `template <class P> void Backend::name(...)` in cuda/kernels.cuh for a
//      model-dependent one;
//   4. one line below, in its group.
// Every op that multiplies matrices takes the Precision first (mixln/precision.hpp). An ActPtr
// argument (act_ptr.hpp) is a tensor stored in T or, under --precision bf16 on a backend with
// bf16_activations, in bf16: the op reads and writes it in its own type; a T* is always T.
//
// A linear layer's bias is its own pair of ops: bias_forward adds b [n] to every row of y
// [rows, n], bias_backward adds the column sums of dy to db (in a fixed order: deterministic).
// A linear op's weight W is the fp32 parameter, or (under bf16) a bf16 copy of it that
// round_to_bf16 made (the engine's head weight, rounded once for all chunks of the loss).
// cross_entropy writes d(loss)/d(logits) to `out` (with grad; else the logits, in out's type);
// `out` may be `logits` itself (in place).
//
// No op returns a value to the host: the loss (cross_entropy adds the batch's sum to *loss_sum)
// and the squared gradient norm (sum_squares) stay in the backend's memory, clipping and the
// optimizer read them there, and the host reads them once per optimizer step. A micro-step is
// thus a fixed sequence of launches with no wait for the device (what a CUDA graph captures).
//
// Attention is causal or has no mask (math/attention_mask.hpp). It saves the softmax statistics
// of each query row, not its probabilities (j ≤ t: the keys the row sees, every j without a mask):
//   stats [B, H, T, 2] = (m, inv) with m = max_{j≤t} s_tj, inv = 1 / Σ_{j≤t} exp(s_tj − m), so
//   that P_tj = exp(s_tj − m)·inv is recomputed in backward (math/flash_attention.hpp);
//   delta [B, H, T] is backward's scratch (Σ_d dO·O per row and head).
#pragma once

#include <cstddef>
#include <cstdint>

#include "act_ptr.hpp"
#include "math/adamw.hpp"
#include "math/attention_mask.hpp"
#include "math/boundary.hpp"
#include "math/norm_rows.hpp"
#include "math/patches.hpp"
#include "precision.hpp"

// The ops every model uses (compiled once on CUDA, src/cuda/ops.cu).
#define MIXLN_BACKEND_DENSE_OPS(X)                                                                                  \
  X(void, embedding_forward, (int rows, int C, const std::int32_t* tokens, const T* table, T* out))                  \
  X(void, embedding_backward, (int rows, int C, const std::int32_t* tokens, const T* dout, T* dtable))               \
  X(void, copy_rows, (int rows, int n, RowsView<const T> src, RowsView<T> dst))                                       \
  X(void, linear_forward, (Precision p, int M, int N, int K, ActPtr<const T> x, ActPtr<const T> W, ActPtr<T> y))   \
  X(void, linear_backward, (Precision p, int M, int N, int K, ActPtr<const T> dy, ActPtr<const T> x,                 \
                            ActPtr<const T> W, ActPtr<T> dx, T* dW))                                                  \
  X(void, patchify, (int B, int height, int width, int channels, int patch, const float* images, T* patches))        \
  X(void, bias_forward, (int rows, int n, const T* b, T* y))                                                          \
  X(void, bias_backward, (int rows, int n, const T* dy, T* db))                                                       \
  X(void, round_to_bf16, (std::size_t n, const T* x, bf16_t* y))                                                      \
  X(void, rope_tables, (int seq, int head_dim, T* cos_out, T* sin_out))                                               \
  X(void, rope, (bool backward, int B, int seq, int H, int D, ActPtr<T> qkv, const T* cos_t, const T* sin_t))       \
  X(void, attention_forward, (Precision p, AttentionMask mask, int B, int seq, int H, int D, ActPtr<const T> qkv,   \
                              T* stats, ActPtr<T> out))                                                              \
  X(void, attention_backward, (Precision p, AttentionMask mask, int B, int seq, int H, int D, ActPtr<const T> qkv,  \
                               ActPtr<const T> out, const T* stats, ActPtr<const T> dout, T* delta, ActPtr<T> dqkv)) \
  X(void, swiglu_forward, (int rows, int I, ActPtr<const T> gu, ActPtr<T> act))                                       \
  X(void, swiglu_backward, (int rows, int I, ActPtr<const T> gu, ActPtr<const T> dact, ActPtr<T> dgu))                \
  X(void, cross_entropy, (int rows, int V, ActPtr<const T> logits, const std::int32_t* labels, int grad_divisor,     \
                          bool grad, ActPtr<T> out, T* row_loss, double* loss_sum))

// The ops that depend on the model type (templates; on CUDA compiled in the model's own
// translation unit, cuda/kernels.cuh): math/boundary.hpp, math/norm_rows.hpp, and the
// elementwise functions of user branches.
#define MIXLN_BACKEND_MODEL_OPS(X)                                                                                   \
  X(Spec, boundary_forward, (int rows, int n, const BoundaryArgs<Spec, T>& b))                                        \
  X(Spec, boundary_backward, (int rows, int n, const BoundaryArgs<Spec, T>& b, const BoundaryGradArgs<Spec, T>& g))   \
  X(Kind, norm_rows_forward, (int rows, int n, RowsView<const T> x, RowsView<T> y, T* const* w, T* stats))            \
  X(Kind, norm_rows_backward, (int rows, int n, RowsView<const T> x, const T* stats, T* const* w,                    \
                               RowsView<const T> dy, RowsView<T> dx, T* const* dw, T* partials))                     \
  X(Op, map_forward, (std::size_t n, const T* x, T* y))                                                               \
  X(Op, map_backward, (std::size_t n, const T* x, const T* dy, T* dx))

// The optimizer's ops over flat parameter buffers.
#define MIXLN_BACKEND_OPTIMIZER_OPS(X)                                                                               \
  X(void, adam_update, (T* p, const T* g, T* m, T* v, const AdamChunk* chunks, int num_chunks, const AdamHyper& h,     \
                        const double* finite_check))                                                                 \
  X(void, sum_squares, (const T* x, std::size_t n, double* out))                                                      \
  X(void, clip_to_norm, (T* x, std::size_t n, const double* sum_squares, double max_norm))
