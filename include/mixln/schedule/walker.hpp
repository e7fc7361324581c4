// mixln/schedule/walker.hpp — the forward and backward pass a Model type compiles to.
//
// The walk is a compile-time fold over the sub-layers and boundaries of the schedule
// (schedule/schedule.hpp); each step is a direct call into the backend: a branch's forward
// or backward (the block's code), or the fused boundary op of its BoundarySpec. For Mix-LN on
// 4 layers (1 Post, 3 Pre) the forward is, written out:
//
//   embed → [embed]                                    boundary 0 (embed: the input stage)
//   attn₀ → [add → RMSNorm]                            boundary 1   (Post→Post)
//   mlp₀  → [add → RMSNorm | RMSNorm → h]              boundary 2   (Post→Pre: two norms, one pass each)
//   attn₁ → [add | RMSNorm → h]                        boundary 3   (Pre→Pre)
//   ...
//   mlp₃  → [add | final RMSNorm → h]                  then lm_head and the loss (schedule/engine.hpp)
//
// backward runs the same steps in reverse. Every pointer an op needs is resolved once per
// arena plan (bind), so the walk itself only launches. Layer-drop studies remove one layer at
// run time: the boundary after it becomes a copy of the stream entering it, then that
// boundary's start norms.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../dsl/branch.hpp"
#include "arena.hpp"
#include "param_layout.hpp"
#include "schedule.hpp"

namespace mixln {

namespace detail {
// The arguments of every boundary of a schedule, each of its own spec's type.
template <class S, class T, class Seq>
struct boundary_tuples;
template <class S, class T, int... k>
struct boundary_tuples<S, T, std::integer_sequence<int, k...>> {
  using args = std::tuple<BoundaryArgs<typename S::template boundary<k>, T>...>;
  using grads = std::tuple<BoundaryGradArgs<typename S::template boundary<k>, T>...>;
};
}  // namespace detail

template <class Net, class Backend>
class Walker {
 public:
  using T = typename Backend::scalar;
  using S = Schedule<Net>;
  using Input = typename Net::input;
  using In = typename Input::input_type;
  static constexpr int K = S::num_sublayers, NB = S::num_boundaries;
  static constexpr int C = int(Net::config::hidden_size);

  // Resolves every boundary's named norm slots to parameter offsets.
  Walker(const ParamLayout& layout, Precision precision) : layout_(&layout), precision_(precision) {
    S::for_each_boundary([&]<int k>() {
      for (const NormSlotRef& slot : S::template norm_slots<k>())
        for (const std::string& name : slot.params) norm_offsets_[k].push_back(layout.offset_of(name));
    });
  }

  // Points every op at the arena laid out by `slots`, and at the parameters and gradients.
  // `arena` is the plan's allocation (bytes); every boundary slot is in T.
  void bind(const ArenaSlots<Net>& sl, const ActivationPlan& plan, unsigned char* arena, T* params, T* grads, int B,
            int Tn) {
    auto at = [&](int slot) -> T* {
      return slot < 0 ? nullptr : reinterpret_cast<T*>(arena + plan.slots[std::size_t(slot)].offset);
    };
    B_ = B, T_ = Tn;
    dstream_ = at(sl.dstream), dh_ = at(sl.dh), df_ = at(sl.df), dskip_ = at(sl.dskip);
    partials_ = at(sl.partials);
    in_w_.clear(), in_dw_.clear();
    for (std::size_t off : layout_->input_weights) in_w_.push_back(params + off), in_dw_.push_back(grads + off);
    auto* scratch = reinterpret_cast<unsigned char*>(at(sl.scratch));
    bind_declared(in_act_, sl.input, plan, arena, scratch);
    in_io_ = {};
    in_io_.batch = B, in_io_.seq = Tn;
    in_io_.dout = df_;
    in_io_.w = in_w_.data(), in_io_.dw = in_dw_.data(), in_io_.act = in_act_.data();
    in_io_.precision = precision_;
    S::for_each_boundary([&]<int k>() {
      using Spec = typename S::template boundary<k>;
      const auto& b = sl.boundary[k];
      auto& a = std::get<k>(args_);
      a = {};
      a.y = at(b.y);
      a.h = at(b.h);
      stream_[k] = a.y;
      input_[k] = b.h >= 0 ? a.h : a.y;
      if constexpr (k == 0) {
        // the input stage writes straight into y, or, when norms follow it, where they read it
        a.f = Spec::num_norms > Spec::ns ? at(sl.branch_out) : a.y;
        in_io_.out = const_cast<T*>(a.f);
      } else {
        a.x = stream_[k - 1];
        a.f = b.f >= 0 ? at(b.f) : at(sl.branch_out);
        if constexpr (Spec::skip) a.x0 = stream_[S::first_sublayer[S::template layer<k - 1>]];
      }
      for (int i = 0; i < Spec::num_norms; ++i) a.in[i] = at(b.norm_in[i]);
      for (int p = 0; p < Spec::num_params; ++p) a.w[p] = params + norm_offsets_[k][std::size_t(p)];
      a.stats = at(b.stats);
      a.a = T(S::template residual_scale<k>());
      a.c = T(S::template pre_scale<k>());
      auto& g = std::get<k>(grad_args_);
      g = {};
      g.dy_ext = g.dx = dstream_;
      g.dskip_in = g.dskip_out = dskip_;
      g.dh = dh_;
      g.df = df_;
      for (int p = 0; p < Spec::num_params; ++p) g.dw[p] = grads + norm_offsets_[k][std::size_t(p)];
      g.partials = partials_;
    });
    S::for_each_sublayer([&]<int k>() {
      auto& act = act_[k];
      bind_declared(act, sl.branch[k], plan, arena, scratch);
      auto& w = w_[k];
      auto& dw = dw_[k];
      w.clear(), dw.clear();
      for (std::size_t off : layout_->branch_weights[k]) w.push_back(params + off), dw.push_back(grads + off);
      BranchIO<T>& io = io_[k];
      io.batch = B, io.seq = Tn;
      io.in = input_[k];
      io.out = const_cast<T*>(std::get<k + 1>(args_).f);  // the next boundary reads F(h) there
      io.dout = df_;
      io.din = dh_;
      io.w = w.data(), io.dw = dw.data(), io.act = act.data();
      io.precision = precision_;
      using Br = typename S::template branch<k>;
      if constexpr (requires { Br::template prepare<Backend>(io); }) Br::template prepare<Backend>(io);
    });
  }

  // The input stage → every sub-layer and boundary; leaves the head's input in final_input().
  // `input`: Input::input_count(B, T) elements in the backend's memory.
  void forward(const In* input) {
    in_io_.input = input;
    phase("embedding", -1, false);
    Input::template forward<Backend>(in_io_);
    boundary_forward<0>();
    [&]<int... k>(std::integer_sequence<int, k...>) {
      (step_forward<k>(), ...);
    }(std::make_integer_sequence<int, K>{});
  }

  // From the gradient of the head's input (in grad_h()) back to the input stage.
  void backward() {
    if (dropped_ >= 0) throw std::logic_error("no backward pass with a dropped layer");
    Backend::zero(dstream_, std::size_t(rows()) * C);
    [&]<int... j>(std::integer_sequence<int, j...>) {
      ((phase("boundary", S::template layer<K - 1 - j>, true), boundary_backward<K - j>(), grads_ready_after<K - j>(),
        phase(S::template branch<K - 1 - j>::name, S::template layer<K - 1 - j>, true), sublayer_backward<K - 1 - j>()),
       ...);
    }(std::make_integer_sequence<int, K>{});
    phase("embedding", -1, true);
    boundary_backward<0>();
    grads_ready_after<0>();
    // boundary 0 has no residual: its branch gradient is the input stage output's gradient.
    Input::template backward<Backend>(in_io_);
    // the input stage and its output's norms, which lie between it and layer 0
    if (grad_ready_) grad_ready_(layout_->embed, layout_->layer_begin[0] - layout_->embed);
  }

  T* final_input() const { return input_[K]; }  // [R, C] input of the head
  T* grad_h() const { return dh_; }              // [R, C] where backward() expects its gradient
  const T* stream(int k) const { return stream_[std::size_t(k)]; }

  void drop_layer(int l) {
    if (l < -1 || l >= Net::num_layers) throw std::out_of_range("drop_layer: no layer " + std::to_string(l));
    dropped_ = l;
  }
  int dropped_layer() const { return dropped_; }
  void set_grad_ready_hook(std::function<void(std::size_t, std::size_t)> hook) { grad_ready_ = std::move(hook); }
  // Called before each phase of a pass — "embedding", a branch's name ("attention", "mlp"),
  // "boundary" — with its layer (−1: none) and direction: `bench` times the phases this way.
  using PhaseHook = std::function<void(const char* phase, int layer, bool backward)>;
  void set_phase_hook(PhaseHook hook) { phase_ = std::move(hook); }
  bool has_phase_hook() const { return bool(phase_); }
  void phase(const char* what, int layer, bool backward) const {
    if (phase_) phase_(what, layer, backward);
  }

 private:
  int rows() const { return B_ * T_; }


  template <int k>
  void boundary_forward() {
    Backend::template boundary_forward<typename S::template boundary<k>>(rows(), C, std::get<k>(args_));
  }
  template <int k>
  void boundary_backward() {
    Backend::template boundary_backward<typename S::template boundary<k>>(rows(), C, std::get<k>(args_),
                                                                          std::get<k>(grad_args_));
  }
  template <int k>
  void sublayer_forward() {
    S::template branch<k>::template forward<Backend>(io_[k]);
  }
  template <int k>
  void sublayer_backward() {
    S::template branch<k>::template backward<Backend>(io_[k]);
  }

  // Boundary k when the layer before it is dropped: y_k = the stream entering that layer, then
  // k's start norms (forward only; the statistics go where k's own would).
  template <int k>
  void bypass_forward() {
    using Full = typename S::template boundary<k>;
    using Spec = typename S::template bypass<k>;
    const auto& full = std::get<k>(args_);
    BoundaryArgs<Spec, T> b;
    b.f = stream_[S::first_sublayer[S::template layer<k - 1>]];
    b.y = full.y;
    b.h = full.h;
    for (int i = 0; i < Spec::num_norms; ++i) b.in[i] = full.in[Full::first_start + i];
    for (int p = 0; p < Spec::num_params; ++p) b.w[p] = full.w[Full::num_params - Spec::num_params + p];
    b.stats = full.stats;
    b.c = full.c;
    Backend::template boundary_forward<Spec>(rows(), C, b);
  }

  // Sub-layer k and the boundary after it, or what replaces them when their layer is dropped.
  template <int k>
  void step_forward() {
    constexpr int l = S::template layer<k>;
    if (dropped_ != l) {
      phase(S::template branch<k>::name, l, false);
      sublayer_forward<k>();
      phase("boundary", l, false);
      boundary_forward<k + 1>();
    } else if constexpr (k + 1 == S::first_sublayer[l + 1]) {
      bypass_forward<k + 1>();
    }
  }

  // After boundary k's backward: the last boundary completes the final norm and lm_head; the
  // first boundary of layer l is the last to touch layer l's parameters.
  template <int k>
  void grads_ready_after() {
    if (!grad_ready_) return;
    if constexpr (k == K) {
      grad_ready_(layout_->final_norm, layout_->total - layout_->final_norm);
    } else if constexpr (S::template branch_index<k> == 0) {
      constexpr int l = S::template layer<k>;
      grad_ready_(layout_->layer_begin[l], layout_->layer_begin[l + 1] - layout_->layer_begin[l]);
    }
  }

  const ParamLayout* layout_;
  Precision precision_;
  std::array<std::vector<std::size_t>, NB> norm_offsets_;
  using Tuples = detail::boundary_tuples<S, T, std::make_integer_sequence<int, NB>>;
  typename Tuples::args args_;
  typename Tuples::grads grad_args_;
  std::array<BranchIO<T>, K> io_{};
  std::array<std::vector<T*>, K> w_, dw_;
  std::array<std::vector<ActPtr<T>>, K> act_;
  std::array<T*, NB> stream_{}, input_{};  // y and the next branch's input of each boundary
  T *dstream_ = nullptr, *dh_ = nullptr, *df_ = nullptr, *dskip_ = nullptr, *partials_ = nullptr;
  InputIO<T, In> in_io_{};
  std::vector<T*> in_w_, in_dw_;
  std::vector<ActPtr<T>> in_act_;
  int B_ = 0, T_ = 0;
  int dropped_ = -1;
  std::function<void(std::size_t, std::size_t)> grad_ready_;
  PhaseHook phase_;
};

}  // namespace mixln
