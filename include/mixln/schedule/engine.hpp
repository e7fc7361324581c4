// mixln/schedule/engine.hpp — a Model type on a backend: its parameters, its activation arena
// and its walk, behind one step() call.
//
//   schedule/schedule.hpp   what the type describes: sub-layers, boundaries, named norm slots
//   schedule/arena.hpp      every activation of a [B, T] batch in one planned allocation
//   schedule/walker.hpp     the forward and backward pass over them
//   schedule/engine.hpp     ownership, the head and the loss, sampling and analysis access
//
// The model's ends are its input stage and its head (dsl/model_ends.hpp): step() takes the input
// stage's input (token ids for a language model, pixels for a ViT) and the head's labels (one
// per token, or one per sample).
//
// Memory: parameters and gradients are one buffer each (schedule/param_layout.hpp); every
// activation lives in the arena. Invariants: activations are written (=), parameter gradients
// accumulate (+=) until zero_grad(), so several micro-batches can be summed.
//
// Precision: the engine holds the GEMM precision it was made with (mixln/precision.hpp; by
// default the backend's first, fp32 on the CPU and bf16 on CUDA) and hands it to every op that
// multiplies matrices: the branches' (through BranchIO::precision) and its own lm_head. Under
// bf16 the arena stores GEMM operands in bf16 where the backend can (arena_types, act_ptr.hpp).
//
// Backends: the engine runs on any backend with the ops of schedule/backend_concept.hpp. On a
// device backend (CUDA) parameters and gradients live on the device and params()/grads() are
// host mirrors: call sync_to_device() after writing params(), sync_to_host() before reading
// either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../mirrored_buffer.hpp"
#include "../precision.hpp"
#include "arena.hpp"
#include "backend_concept.hpp"
#include "param_layout.hpp"
#include "plan.hpp"
#include "head_loss.hpp"
#include "step_graphs.hpp"
#include "walker.hpp"

namespace mixln {

// What one forward pass measured: the sum of the token losses over labels ≠ −100, and how
// many labels there were. Callers divide once, where they know over what.
struct StepResult {
  double loss_sum = 0;
  long long labels = 0;
  double mean() const { return labels ? loss_sum / double(labels) : 0.0; }
};

namespace detail {
// Every branch of the model has forward and backward for this backend.
template <class Br, class Backend>
struct check_branch_backend {
  static constexpr bool value = requires(const BranchIO<typename Backend::scalar>& io) {
    Br::template forward<Backend>(io);
    Br::template backward<Backend>(io);
  };
  static_assert(value,
                "Engine: a branch lacks `template <class Backend, class T> static void "
                "forward(const BranchIO<T>&)` or backward(...) for this backend (see dsl/branch.hpp)");
};
template <class Net, class Backend>
constexpr bool check_branches() {
  using S = Schedule<Net>;
  return []<int... k>(std::integer_sequence<int, k...>) {
    return (check_branch_backend<typename S::template branch<k>, Backend>::value && ...);
  }(std::make_integer_sequence<int, S::num_sublayers>{});
}
}  // namespace detail

template <class Net, class Backend>
class Engine {
  static_assert(is_model_v<Net>, "Engine: the first argument must be a Model<Cfg, Stack<...>>");
  static_assert(check_backend<Backend>::value);
  static_assert(detail::check_branches<Net, Backend>());

 public:
  using T = typename Backend::scalar;
  using model_type = Net;
  using Cfg = typename Net::config;
  using Input = typename Net::input;
  using Head = typename Net::head;
  using In = typename Input::input_type;  // an element of step()'s input
  static constexpr bool lm_head = is_lm_head_v<Head>;
  using S = Schedule<Net>;
  static constexpr int L = Net::num_layers;
  static constexpr int V = int(Cfg::vocab_size), C = int(Cfg::hidden_size);

  // An Error if the backend has no GEMMs of that precision.
  explicit Engine(Precision precision = Backend::precisions[0])
      : precision_(check_precision<Backend>(precision)),
        layout_(make_param_layout<Net>()),
        params_(layout_.total),
        grads_(layout_.total),
        walker_(layout_, precision_),
        scalars_(2) {
    grads_.zero();
    Backend::zero(scalars_.data(), 2);
  }
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const ParamLayout& layout() const { return layout_; }
  Precision precision() const { return precision_; }
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
  void sync_params_to_host() { params_.to_host(); }
  void zero_grad() { grads_.zero(); }
  // The backend's own parameter and gradient buffers (for the optimizer).
  T* device_params() { return params_.device(); }
  T* device_grads() { return grads_.device(); }

  int batch() const { return B_; }
  int seq() const { return T_; }

  // The element types of the arena in a precision: ActivationType::gemm slots and the logits in
  // bf16 under bf16 where the backend stores bf16 activations (Backend::bf16_activations).
  static ArenaTypes arena_types(Precision p) {
    return {sizeof(T), p == Precision::bf16 && backend_stores_bf16<Backend>};
  }
  // The activation plan for a batch of B sequences of T tokens (what `info` prints).
  static ActivationPlan plan(int B, int Tn, Precision p = Backend::precisions[0]) {
    return plan_activations<Net>(B, Tn, arena_types(p));
  }

  // Sizes the arena for [B, T] batches (no-op when unchanged).
  void reserve(int B, int Tn) {
    if (B == B_ && Tn == T_) return;
    if (Input::fixed_seq > 0 && Tn != Input::fixed_seq)
      throw std::invalid_argument("this model's input stage (" + std::string(Input::name) + ") makes " +
                                  std::to_string(Input::fixed_seq) + " rows per sample, not " + std::to_string(Tn));
    plan_ = plan_activations<Net>(B, Tn, arena_types(precision_), &slots_);
    arena_.resize(0);
    arena_.resize(plan_.bytes());
    input_buf_.resize(Input::input_count(B, Tn));
    labels_buf_.resize(std::size_t(Head::label_count(B, Tn)));
    B_ = B, T_ = Tn;
    bind();
  }
  const ActivationPlan& activation_plan() const { return plan_; }

  // Fills the activation arena for [B, T] batches with `value` (e.g. NaN), so that a slot read
  // before it is written shows up in the loss or the gradients; the tests run steps this way.
  // Branches' prepared constants (RoPE tables) are computed again after the fill.
  void fill_arena(int B, int Tn, T value) {
    reserve(B, Tn);
    std::vector<unsigned char> fill(plan_.bytes());
    for (const auto& s : plan_.slots)
      for (std::size_t i = 0; i < s.count; ++i) {
        unsigned char* e = fill.data() + s.offset + i * s.elem_bytes;
        if (s.type == SlotType::bf16) {
          const bf16_t v = from_float<bf16_t>(value);
          std::memcpy(e, &v, sizeof v);
        } else {
          std::memcpy(e, &value, sizeof value);
        }
      }
    Backend::copy_to_device(arena_.data(), fill.data(), fill.size());
    bind();
  }

  // Removes layer l from forward passes (it becomes the identity), for layer-drop studies;
  // -1 restores the full model.
  void drop_layer(int l) { walker_.drop_layer(l); }
  int dropped_layer() const { return walker_.dropped_layer(); }

  // Called during backward as soon as a range of gradients is final, in the order backward
  // finishes them: first the final norm and lm_head, then each layer's, L−1 first and 0 last,
  // then the embedding (docs/design.md §11.4). A data-parallel trainer starts the reduction of a range right away
  // (ncclAllReduce per layer on CUDA). Arguments: offset and count in the gradient buffer.
  void set_grad_ready_hook(std::function<void(std::size_t, std::size_t)> hook) {
    hooked_ = bool(hook);  // a graph cannot call back into the host
    walker_.set_grad_ready_hook(std::move(hook));
  }

  // Forward pass over a [B, T] batch — its input (tokens [B, T] for a language model) and its
  // labels (Head::label_count(B, T): one per token, or one per sample): the sum of the losses
  // and the label count.
  // With `backward`, also accumulates every parameter's gradient of (that sum) / grad_divisor
  // — by default the batch's own label count, i.e. the gradient of the mean; a trainer
  // accumulating micro-batches passes the label count of the whole global batch. Waits for the
  // backend to read the loss; a trainer calls micro_step instead.
  StepResult step(const In* input, const std::int32_t* labels, int B, int Tn, bool backward,
                  long long grad_divisor = 0) {
    reset_loss();
    StepResult res;
    res.labels = micro_step(input, labels, B, Tn, backward, grad_divisor);
    Backend::copy_to_host(&res.loss_sum, scalars_.data(), 1);
    return res;
  }

  // step() without reading anything back: the loss sum is added to step_scalars()[0] in the
  // backend's memory, where clipping and the optimizer find it (train/optimizer.hpp), and the
  // host reads it once per optimizer step. Returns the label count (counted on the host). On a
  // device backend this issues a fixed sequence of launches and never waits for the device.
  long long micro_step(const In* input, const std::int32_t* labels, int B, int Tn, bool backward,
                       long long grad_divisor = 0) {
    if (backward && walker_.dropped_layer() >= 0) throw std::logic_error("no backward pass with a dropped layer");
    reserve(B, Tn);
    const int R = B * Tn, NL = Head::label_count(B, Tn);
    const std::size_t NI = Input::input_count(B, Tn);
    long long n_labels = 0;
    for (int r = 0; r < NL; ++r) n_labels += labels[r] != kIgnoreIndex;
    const int divisor = int(grad_divisor > 0 ? grad_divisor : n_labels);
    graphs_.run(
        {B, Tn, backward, backward ? divisor : 0}, !hooked_ && !walker_.has_phase_hook() && walker_.dropped_layer() < 0,
        [&] {
          walker_.forward(Backend::stage(input_buf_, input, NI));
          walker_.phase("head_loss", -1, false);
          const std::int32_t* lab = Backend::stage(labels_buf_, labels, std::size_t(NL));
          if constexpr (lm_head) {
            head_loss_forward<Backend, Net>(precision_, slots_, plan_, arena_.data(), R, walker_.final_input(),
                                            P(layout_.head), lab, divisor, backward, at(slots_.row_loss),
                                            scalars_.data());
          } else {
            head_io_.labels = lab, head_io_.grad_divisor = divisor, head_io_.grad = backward;
            Head::template forward<Backend>(head_io_);
          }
          if (backward) {
            // the head's backward gives the gradient of its input, the final norm's output
            walker_.phase("head_loss", -1, true);
            if constexpr (lm_head)  // logits now hold d(loss)/d(logits)
              head_loss_backward<Backend, Net>(precision_, slots_, plan_, arena_.data(), R, walker_.final_input(),
                                               P(layout_.head), walker_.grad_h(), G(layout_.head));
            else
              Head::template backward<Backend>(head_io_);
            walker_.backward();
          }
        },
        [&] {
          if constexpr (GraphBackend<Backend>) {
            Backend::restage(input_buf_, input, NI);
            Backend::restage(labels_buf_, labels, std::size_t(NL));
          }
        });
    return n_labels;
  }

  // Micro-steps as graphs, captured once per shape and replayed (schedule/step_graphs.hpp): on
  // by default on a backend that can capture (CUDA), `--cuda-graph off` turns them off.
  void use_graphs(bool on) { graphs_.enable(on); }
  // Called before each phase of a pass (schedule/walker.hpp); micro-steps run eagerly meanwhile.
  void set_phase_hook(typename Walker<Net, Backend>::PhaseHook hook) { walker_.set_phase_hook(std::move(hook)); }
  const StepGraphs<Backend>& graphs() const { return graphs_; }

  // Two doubles in the backend's memory: [0] the loss sum of the micro-steps since reset_loss(),
  // [1] the squared norm of the gradient, written by the optimizer step's clipping.
  double* step_scalars() { return scalars_.data(); }
  void reset_loss() { Backend::zero(scalars_.data(), 1); }
  // Both, on the host (waits for the backend).
  std::pair<double, double> read_step_scalars() const {
    double v[2];
    Backend::copy_to_host(v, scalars_.data(), 2);
    return {v[0], v[1]};
  }

  // Forward pass without labels; returns the logits of the last position of each sequence,
  // [B, V], on the host. For sampling (a language model's).
  std::vector<T> last_logits(const In* tokens, int B, int Tn) requires lm_head {
    reserve(B, Tn);
    walker_.forward(Backend::stage(input_buf_, tokens, Input::input_count(B, Tn)));
    const ActPtr<T> logits = logits_ptr();
    for (int b = 0; b < B; ++b)
      Backend::linear_forward(precision_, 1, V, C, walker_.final_input() + (std::size_t(b) * Tn + Tn - 1) * C, P(layout_.head),
                              logits + std::ptrdiff_t(b) * V);
    std::vector<T> out(std::size_t(B) * V);
    copy_to_host_as_scalar(out.data(), logits, out.size());
    return out;
  }

  // Copies the logits [B·T, V] of the last forward-only step (a step with backward turns them
  // into their gradient) to the host, in T whatever they are stored in (under bf16 on a backend
  // that stores it, the logits rounded to bf16).
  void copy_logits(T* host_out) const requires lm_head {
    copy_to_host_as_scalar(host_out, logits_ptr(), std::size_t(B_) * T_ * V);
  }

  // Copies the first n elements of activation i of a head other than LmHead (a saved one, stored
  // in T: ClassHead's logits after a forward-only step) to the host.
  void copy_head_activation(int i, T* host_out, std::size_t n) const requires(!lm_head) {
    if (i < 0 || std::size_t(i) >= slots_.head.slot.size() || slots_.head.slot[std::size_t(i)] < 0)
      throw std::out_of_range("copy_head_activation: the head has no saved activation " + std::to_string(i));
    const auto& s = plan_.slots[std::size_t(slots_.head.slot[std::size_t(i)])];
    if (s.type != SlotType::scalar || n > s.count)
      throw std::out_of_range("copy_head_activation: activation " + s.name + " is not " + std::to_string(n) +
                              " scalars");
    Backend::copy_to_host(host_out, reinterpret_cast<const T*>(arena_.data() + s.offset), n);
  }

  // Copies the stream entering layer l (l = L: the last layer's output, before the final
  // norm) of the last forward pass to the host: [B·T, C].
  void layer_input(int l, T* host_out) const {
    if (l < 0 || l > L) throw std::out_of_range("layer_input: no layer " + std::to_string(l));
    Backend::copy_to_host(host_out, walker_.stream(S::first_sublayer[std::size_t(l)]), std::size_t(B_) * T_ * C);
  }

 private:
  // The walk's pointers, and (for a head other than LmHead) the head's, at the arena.
  void bind() {
    walker_.bind(slots_, plan_, arena_.data(), params_.device(), grads_.device(), B_, T_);
    if constexpr (!lm_head) {
      head_w_.clear(), head_dw_.clear();
      for (std::size_t off : layout_.head_weights) head_w_.push_back(P(off)), head_dw_.push_back(G(off));
      bind_declared(head_act_, slots_.head, plan_, arena_.data(), reinterpret_cast<unsigned char*>(at(slots_.scratch)));
      head_io_ = {};
      head_io_.batch = B_, head_io_.seq = T_;
      head_io_.x = walker_.final_input();
      head_io_.dx = walker_.grad_h();
      head_io_.row_loss = at(slots_.row_loss);
      head_io_.loss_sum = scalars_.data();
      head_io_.w = head_w_.data(), head_io_.dw = head_dw_.data(), head_io_.act = head_act_.data();
      head_io_.precision = precision_;
    }
  }
  T* at(int slot) {
    return slot < 0 ? nullptr : reinterpret_cast<T*>(arena_.data() + plan_.slots[std::size_t(slot)].offset);
  }
  // The logits in their element type (bf16 under --precision bf16 where the backend stores it).
  ActPtr<T> logits_ptr() const {
    return slot_act<T>(const_cast<unsigned char*>(arena_.data()), plan_, slots_.logits);
  }
  void copy_to_host_as_scalar(T* host_out, ActPtr<T> src, std::size_t n) const {
    if (!src.is_bf16()) return Backend::copy_to_host(host_out, src.scalar(), n);
    std::vector<bf16_t> bits(n);
    Backend::copy_to_host(bits.data(), src.bf16(), n);
    for (std::size_t i = 0; i < n; ++i) host_out[i] = T(to_float(bits[i]));
  }
  T* P(std::size_t off) { return params_.device() + off; }
  T* G(std::size_t off) { return grads_.device() + off; }

  Precision precision_;
  ParamLayout layout_;
  MirroredBuffer<Backend, T> params_, grads_;
  Walker<Net, Backend> walker_;
  ActivationPlan plan_;
  ArenaSlots<Net> slots_;
  typename Backend::template buffer<unsigned char> arena_;  // the plan's slots, at their byte offsets
  typename Backend::template buffer<In> input_buf_;
  typename Backend::template buffer<std::int32_t> labels_buf_;
  HeadIO<T> head_io_{};  // a head other than LmHead: its pointers
  std::vector<T*> head_w_, head_dw_;
  std::vector<ActPtr<T>> head_act_;
  typename Backend::template buffer<double> scalars_;  // [2] loss sum, squared gradient norm
  StepGraphs<Backend> graphs_;
  bool hooked_ = false;
  int B_ = 0, T_ = 0;
};

}  // namespace mixln
