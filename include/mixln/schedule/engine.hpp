// mixln/schedule/engine.hpp — the forward and backward pass a Model type compiles to.
//
// The schedule is a compile-time walk over the 2L sub-layers and 2L+1 boundaries of the
// model (schedule/layers.hpp); each step is a direct call into the backend, with the
// boundary's fused kernel chosen by its BoundaryKind. For Mix-LN on 4 layers (1 Post, 3 Pre)
// the forward is, written out:
//
//   embed → [embed | norm]                       boundary 0
//   attn₀ → [add → norm]                         boundary 1   (Post→Post)
//   mlp₀  → [add → norm | norm → h]              boundary 2   (Post→Pre: two norms, one pass)
//   attn₁ → [add | norm → h]                     boundary 3   (Pre→Pre)
//   ...
//   mlp₃  → [add | final norm → h] → lm_head → cross-entropy
//
// Memory: parameters and gradients are one buffer each (schedule/param_layout.hpp); every
// activation lives in one arena carved by `plan(B, T)` (schedule/plan.hpp).
// Invariants: activations are written (=), parameter gradients accumulate (+=) until
// zero_grad(), so several micro-batches can be summed.
//
// Backends: the engine runs on any backend with the ops of cpu::Backend. On a device backend
// (CUDA) parameters and gradients live on the device and params()/grads() are host mirrors:
// call sync_to_device() after writing params(), sync_to_host() before reading either.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../config.hpp"

#include "../mirrored_buffer.hpp"
#include "boundary_args.hpp"
#include "layers.hpp"
#include "param_layout.hpp"
#include "plan.hpp"

namespace mixln {

template <class Net, class Backend>
class Engine {
 public:
  using T = typename Backend::scalar;
  using model_type = Net;
  using Cfg = typename Net::config;
  static constexpr int L = Net::num_layers;
  static constexpr int kSubLayers = 2 * L;
  static constexpr int kBoundaries = 2 * L + 1;
  static constexpr int V = int(Cfg::vocab_size), C = int(Cfg::hidden_size),
                       I = int(Cfg::intermediate_size), H = int(Cfg::num_heads),
                       D = int(Cfg::head_dim);

  Engine() : layout_(make_param_layout<Net>()), params_(layout_.total), grads_(layout_.total) {
    grads_.zero();
  }

  const ParamLayout& layout() const { return layout_; }
  // Host views of the parameters and gradients (see the note on backends above).
  std::span<T> params() { return params_.host(); }
  std::span<const T> params() const { return params_.host(); }
  std::span<T> grads() { return grads_.host(); }
  std::span<const T> grads() const { return grads_.host(); }
  void sync_to_device() { params_.to_device(); }
  void sync_to_host() {
    params_.to_host();
    grads_.to_host();
  }
  void zero_grad() { grads_.zero(); }
  // The backend's own parameter and gradient buffers (for the optimizer).
  T* device_params() { return params_.device(); }
  T* device_grads() { return grads_.device(); }

  int batch() const { return B_; }
  int seq() const { return T_; }

  // Slot indices of a plan; -1 where the model has no such tensor.
  struct Slots {
    std::array<int, kBoundaries> y{}, s{}, h{}, f{}, stats{};
    std::array<int, L> qkv{}, probs{}, att{}, gu{}, act{};
    int branch = -1, logits = -1, row_loss = -1, rope_cos = -1, rope_sin = -1;
    int dstream = -1, dh = -1, df = -1, dqkv = -1, datt = -1, dprobs = -1, dgu = -1,
        dact = -1, dskip = -1, partials = -1;
  };

  // The activation plan for a batch of B sequences of T tokens.
  static ActivationPlan plan(int B, int Tn, Slots* slots_out = nullptr) {
    ActivationPlan p;
    p.elem_bytes = sizeof(T);
    Slots sl;
    const std::size_t R = std::size_t(B) * Tn, c = C, i2 = 2 * std::size_t(I);
    const std::size_t b = B, t = Tn, h = H;
    for_each_boundary([&]<int k>() {
      constexpr BoundaryKind K = boundary_kind<Net, k>();
      const std::string n = "boundary" + std::to_string(k) + ".";
      sl.f[k] = K.branch_norm ? p.add(n + "f", {R, c}) : -1;
      sl.s[k] = K.end_norm ? p.add(n + "s", {R, c}) : -1;
      sl.y[k] = p.add(n + "y", {R, c});
      sl.h[k] = K.start_norm ? p.add(n + "h", {R, c}) : -1;
      sl.stats[k] = p.add(n + "rstd", {R, 3});
      if (k < kSubLayers) {
        const int layer = k / 2;
        const std::string ln = "layer" + std::to_string(layer) + ".";
        if (k % 2 == 0) {
          sl.qkv[layer] = p.add(ln + "qkv", {R, 3 * c});
          sl.probs[layer] = p.add(ln + "attn_probs", {b, h, t, t});
          sl.att[layer] = p.add(ln + "attn_out", {R, c});
        } else {
          sl.gu[layer] = p.add(ln + "gate_up", {R, i2});
          sl.act[layer] = p.add(ln + "swiglu", {R, std::size_t(I)});
        }
      }
    });
    sl.branch = p.add("branch_out", {R, c});
    sl.logits = p.add("logits", {R, std::size_t(V)});
    sl.row_loss = p.add("row_loss", {R});
    sl.rope_cos = p.add("rope_cos", {t, std::size_t(D / 2)});
    sl.rope_sin = p.add("rope_sin", {t, std::size_t(D / 2)});
    sl.dstream = p.add("grad.stream", {R, c}, true);
    sl.dh = p.add("grad.h", {R, c}, true);
    sl.df = p.add("grad.branch", {R, c}, true);
    sl.dqkv = p.add("grad.qkv", {R, 3 * c}, true);
    sl.datt = p.add("grad.attn_out", {R, c}, true);
    sl.dprobs = p.add("grad.attn_probs", {b, h, t, t}, true);
    sl.dgu = p.add("grad.gate_up", {R, i2}, true);
    sl.dact = p.add("grad.swiglu", {R, std::size_t(I)}, true);
    if constexpr (has_skip<Net>()) sl.dskip = p.add("grad.skip", {R, c}, true);
    sl.partials = p.add("grad.norm_partials", {std::size_t(row_chunks(int(R))), 4, c}, true);
    if (slots_out) *slots_out = sl;
    return p;
  }

  // Sizes the arena for [B, T] batches (no-op when unchanged).
  void reserve(int B, int Tn) {
    if (B <= 0 || Tn <= 0) throw std::invalid_argument("batch and sequence length must be positive");
    if (B == B_ && Tn == T_) return;
    plan_ = plan(B, Tn, &slots_);
    arena_.resize(0);
    arena_.resize(plan_.total);
    tokens_buf_.resize(std::size_t(B) * Tn);
    labels_buf_.resize(std::size_t(B) * Tn);
    B_ = B, T_ = Tn;
    Backend::rope_tables(Tn, D, at(slots_.rope_cos), at(slots_.rope_sin));
  }
  const ActivationPlan& activation_plan() const { return plan_; }

  // Removes layer l from forward passes (it becomes the identity: the stream entering it is
  // the stream leaving it), for layer-drop studies; -1 restores the full model. The schedule
  // is unchanged but for one runtime branch in the walk: the boundary after the dropped layer
  // becomes a copy of its input stream followed by the next start norm.
  void drop_layer(int l) {
    if (l < -1 || l >= L) throw std::out_of_range("drop_layer: no layer " + std::to_string(l));
    dropped_ = l;
  }
  int dropped_layer() const { return dropped_; }

  // Called during backward as soon as a range of gradients is final: each layer's (in the
  // order backward finishes them: L−1 first), then the final norm and lm_head, then the
  // embedding. A data-parallel trainer starts the reduction of a range right away
  // (ncclAllReduce per layer on CUDA). Arguments: offset and count in the gradient buffer.
  void set_grad_ready_hook(std::function<void(std::size_t, std::size_t)> hook) { grad_ready_ = std::move(hook); }

  // Forward pass over tokens/labels [B, T]; returns the mean loss over labels ≠ −100 (and
  // n_labels, their count). With `backward`, also accumulates every parameter's gradient of
  // (sum of this batch's token losses) / grad_divisor — by default the batch's own label
  // count, i.e. the gradient of the mean; a trainer accumulating micro-batches passes the
  // label count of the whole global batch.
  double step(const std::int32_t* tokens, const std::int32_t* labels, int B, int Tn,
              bool backward, int* n_labels_out = nullptr, int grad_divisor = 0) {
    if (backward && dropped_ >= 0) throw std::logic_error("no backward pass with a dropped layer");
    reserve(B, Tn);
    const int R = B * Tn;
    tokens_ = Backend::stage(tokens_buf_, tokens, std::size_t(R));
    int n_labels = 0;
    for (int r = 0; r < R; ++r) n_labels += labels[r] != kIgnoreIndex;
    if (n_labels_out) *n_labels_out = n_labels;
    forward_layers();
    T* logits = at(slots_.logits);
    Backend::linear_forward(R, V, C, h_in(kSubLayers), P(layout_.head), logits);
    const double total = Backend::cross_entropy(R, V, logits, Backend::stage(labels_buf_, labels, std::size_t(R)),
                                                grad_divisor > 0 ? grad_divisor : n_labels,
                                                backward, at(slots_.row_loss));
    if (backward) backward_layers();
    return n_labels ? total / n_labels : 0.0;
  }

  // Forward pass without labels; returns the logits of the last position of each sequence,
  // [B, V], on the host. For sampling.
  std::vector<T> last_logits(const std::int32_t* tokens, int B, int Tn) {
    reserve(B, Tn);
    tokens_ = Backend::stage(tokens_buf_, tokens, std::size_t(B) * Tn);
    forward_layers();
    T* logits = at(slots_.logits);
    for (int b = 0; b < B; ++b)
      Backend::linear_forward(1, V, C, h_in(kSubLayers) + (std::size_t(b) * Tn + Tn - 1) * C,
                              P(layout_.head), logits + std::size_t(b) * V);
    std::vector<T> out(std::size_t(B) * V);
    Backend::copy_to_host(out.data(), logits, out.size());
    return out;
  }

  // Copies the stream y entering layer l (l = L: the last layer's output, before the final
  // norm) of the last forward pass to the host: [B·T, C].
  void layer_input(int l, T* host_out) const {
    Backend::copy_to_host(host_out, at(slots_.y[2 * l]), std::size_t(B_) * T_ * C);
  }

 private:
  template <class F>
  static void for_each_boundary(F&& f) {
    [&]<int... k>(std::integer_sequence<int, k...>) {
      (f.template operator()<k>(), ...);
    }(std::make_integer_sequence<int, kBoundaries>{});
  }

  T* at(int slot) { return slot < 0 ? nullptr : arena_.data() + plan_.slots[slot].offset; }
  const T* at(int slot) const {
    return slot < 0 ? nullptr : arena_.data() + plan_.slots[slot].offset;
  }
  T* P(std::size_t off) { return params_.device() + off; }
  T* G(std::size_t off) { return grads_.device() + off; }

  // Input of sub-layer k (k = 2L: of lm_head): h of boundary k, or its y if it has no norm.
  T* h_in(int k) { return slots_.h[k] >= 0 ? at(slots_.h[k]) : at(slots_.y[k]); }

  // Norm-weight offsets and scalars of boundary k.
  template <int k>
  void boundary_weights(std::size_t& wb, std::size_t& we, std::size_t& ws, T& a, T& c) const {
    constexpr BoundaryKind K = boundary_kind<Net, k>();
    wb = we = ws = 0;
    a = c = T(1);
    if constexpr (k > 0) {
      constexpr int end_layer = (k - 1) / 2, base = (k - 1) % 2 == 0 ? 0 : 3;
      using PE = typename Net::template layer<end_layer>;
      const auto& lo = layout_.layers[end_layer];
      if constexpr (K.branch_norm) wb = lo.norm[base + 1];
      if constexpr (K.end_norm) we = lo.norm[base + 2];
      a = T(PE::residual_scale(L));
    }
    if constexpr (k < kSubLayers) {
      constexpr int start_layer = k / 2;
      using PS = typename Net::template layer<start_layer>;
      if constexpr (K.start_norm) ws = layout_.layers[start_layer].norm[k % 2 == 0 ? 0 : 3];
      c = T(PS::pre_scale(start_layer, L));
    } else {
      ws = layout_.final_norm;
    }
  }

  template <int k>
  BoundaryBuffers<T> boundary_buffers() {
    constexpr BoundaryKind K = boundary_kind<Net, k>();
    BoundaryBuffers<T> b;
    std::size_t wb, we, ws;
    boundary_weights<k>(wb, we, ws, b.a, b.c);
    b.y = at(slots_.y[k]);
    if constexpr (k == 0) {
      b.f = b.y;  // the embedding was written straight into y
    } else {
      b.x = at(slots_.y[k - 1]);
      b.f = K.branch_norm ? at(slots_.f[k]) : at(slots_.branch);
      if constexpr (K.skip) b.x0 = at(slots_.y[k - 2]);  // the stream entering this layer
    }
    b.s = at(slots_.s[k]);
    b.h = at(slots_.h[k]);
    b.stats = at(slots_.stats[k]);
    if constexpr (K.branch_norm) b.wb = P(wb);
    if constexpr (K.end_norm) b.we = P(we);
    if constexpr (K.start_norm) b.ws = P(ws);
    return b;
  }

  // Where sub-layer k writes its branch output: boundary k+1 keeps it if it normalises it.
  T* branch_out(int k) {
    return slots_.f[k + 1] >= 0 ? at(slots_.f[k + 1]) : at(slots_.branch);
  }

  template <int k>
  void sublayer_forward() {
    constexpr int layer = k / 2;
    const auto& lo = layout_.layers[layer];
    const int R = B_ * T_;
    T* h = h_in(k);
    if constexpr (k % 2 == 0) {  // causal self-attention
      T* qkv = at(slots_.qkv[layer]);
      T* att = at(slots_.att[layer]);
      Backend::linear_forward(R, 3 * C, C, h, P(lo.qkv), qkv);
      Backend::template rope<false>(B_, T_, H, D, qkv, at(slots_.rope_cos), at(slots_.rope_sin));
      Backend::attention_forward(B_, T_, H, D, qkv, at(slots_.probs[layer]), att);
      Backend::linear_forward(R, C, C, att, P(lo.o), branch_out(k));
    } else {  // SwiGLU MLP
      T* gu = at(slots_.gu[layer]);
      T* act = at(slots_.act[layer]);
      Backend::linear_forward(R, 2 * I, C, h, P(lo.gate_up), gu);
      Backend::swiglu_forward(R, I, gu, act);
      Backend::linear_forward(R, C, I, act, P(lo.down), branch_out(k));
    }
  }

  // Sub-layer k backward: grad of its branch output (slot df) → grad of its input h (slot dh).
  template <int k>
  void sublayer_backward() {
    constexpr int layer = k / 2;
    const auto& lo = layout_.layers[layer];
    const int R = B_ * T_;
    T* h = h_in(k);
    T* df = at(slots_.df);
    T* dh = at(slots_.dh);
    if constexpr (k % 2 == 0) {
      T* qkv = at(slots_.qkv[layer]);
      T* datt = at(slots_.datt);
      T* dqkv = at(slots_.dqkv);
      Backend::linear_backward(R, C, C, df, at(slots_.att[layer]), P(lo.o), datt, G(lo.o));
      Backend::attention_backward(B_, T_, H, D, qkv, at(slots_.probs[layer]), datt,
                                  at(slots_.dprobs), dqkv);
      Backend::template rope<true>(B_, T_, H, D, dqkv, at(slots_.rope_cos), at(slots_.rope_sin));
      Backend::linear_backward(R, 3 * C, C, dqkv, h, P(lo.qkv), dh, G(lo.qkv));
    } else {
      T* dact = at(slots_.dact);
      T* dgu = at(slots_.dgu);
      T* gu = at(slots_.gu[layer]);
      Backend::linear_backward(R, C, I, df, at(slots_.act[layer]), P(lo.down), dact, G(lo.down));
      Backend::swiglu_backward(R, I, gu, dact, dgu);
      Backend::linear_backward(R, 2 * I, C, dgu, h, P(lo.gate_up), dh, G(lo.gate_up));
    }
  }

  template <int k>
  void boundary_forward() {
    Backend::template boundary_forward<boundary_kind<Net, k>()>(B_ * T_, C, boundary_buffers<k>());
  }

  template <int k>
  void boundary_backward() {
    constexpr BoundaryKind K = boundary_kind<Net, k>();
    std::size_t wb, we, ws;
    T a, c;
    boundary_weights<k>(wb, we, ws, a, c);
    BoundaryGradBuffers<T> g;
    g.dy_ext = g.dx = at(slots_.dstream);
    g.dskip_in = g.dskip_out = at(slots_.dskip);
    g.dh = at(slots_.dh);
    g.df = at(slots_.df);
    if constexpr (K.branch_norm) g.dwb = G(wb);
    if constexpr (K.end_norm) g.dwe = G(we);
    if constexpr (K.start_norm) g.dws = G(ws);
    g.partials = at(slots_.partials);
    Backend::template boundary_backward<K>(B_ * T_, C, boundary_buffers<k>(), g);
  }

  // Boundary k when the layer before it is dropped: y_k = y_{k-2}, then k's start norm.
  template <int k>
  void bypass_forward() {
    constexpr BoundaryKind K = boundary_kind<Net, k>();
    constexpr BoundaryKind Copy{.residual = false, .start_norm = K.start_norm};
    BoundaryBuffers<T> b = boundary_buffers<k>();
    b.x = b.x0 = nullptr;
    b.f = at(slots_.y[k - 2]);
    Backend::template boundary_forward<Copy>(B_ * T_, C, b);
  }

  // Sub-layer k and the boundary after it, or what replaces them when their layer is dropped.
  template <int k>
  void layer_step_forward() {
    if (dropped_ != k / 2) {
      sublayer_forward<k>();
      boundary_forward<k + 1>();
    } else if constexpr (k % 2 == 1) {
      bypass_forward<k + 1>();
    }
  }

  // After boundary k's backward: boundary 2L completes the final norm and lm_head; boundary
  // 2i (before layer i's attention) is the last to touch layer i's parameters.
  template <int k>
  void grads_ready_after_boundary() {
    if (!grad_ready_) return;
    if constexpr (k == kSubLayers) {
      grad_ready_(layout_.final_norm, layout_.total - layout_.final_norm);
    } else if constexpr (k % 2 == 0) {
      const std::size_t begin = layout_.layers[k / 2].qkv;
      const std::size_t end = k / 2 + 1 < L ? layout_.layers[k / 2 + 1].qkv : layout_.final_norm;
      grad_ready_(begin, end - begin);
    }
  }

  void forward_layers() {
    const int R = B_ * T_;
    Backend::embedding_forward(R, C, tokens_, P(layout_.embed), at(slots_.y[0]));
    boundary_forward<0>();
    [&]<int... k>(std::integer_sequence<int, k...>) {
      (layer_step_forward<k>(), ...);
    }(std::make_integer_sequence<int, kSubLayers>{});
  }

  void backward_layers() {
    const int R = B_ * T_;
    // logits now hold d(loss)/d(logits); lm_head backward gives the grad of the final h.
    Backend::linear_backward(R, V, C, at(slots_.logits), h_in(kSubLayers), P(layout_.head),
                             at(slots_.dh), G(layout_.head));
    Backend::zero(at(slots_.dstream), std::size_t(R) * C);
    [&]<int... j>(std::integer_sequence<int, j...>) {
      ((boundary_backward<kSubLayers - j>(), grads_ready_after_boundary<kSubLayers - j>(),
        sublayer_backward<kSubLayers - 1 - j>()),
       ...);
    }(std::make_integer_sequence<int, kSubLayers>{});
    boundary_backward<0>();
    grads_ready_after_boundary<0>();
    // boundary 0 has no residual: its branch gradient is the embedding output's gradient.
    Backend::embedding_backward(R, C, tokens_, at(slots_.df), G(layout_.embed));
    if (grad_ready_) grad_ready_(layout_.embed, std::size_t(V) * C);
  }

  ParamLayout layout_;
  MirroredBuffer<Backend, T> params_, grads_;
  ActivationPlan plan_;
  Slots slots_;
  typename Backend::template buffer<T> arena_;
  typename Backend::template buffer<std::int32_t> tokens_buf_, labels_buf_;
  int B_ = 0, T_ = 0;
  int dropped_ = -1;
  std::function<void(std::size_t, std::size_t)> grad_ready_;
  const std::int32_t* tokens_ = nullptr;
};

}  // namespace mixln
