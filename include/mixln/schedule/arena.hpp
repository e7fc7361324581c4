// mixln/schedule/arena.hpp — every activation of a Model for a [B, T] batch, planned into one
// allocation of named slots (schedule/plan.hpp), from the schedule description alone.
//
// Per boundary k (math/boundary.hpp):
//   boundary{k}.f         [R, C]  the branch output, where a branch norm needs it kept
//   boundary{k}.s         [R, C]  the pre-norm sum, where an end norm needs it kept
//   boundary{k}.y         [R, C]  the residual stream
//   boundary{k}.h         [R, C]  the next branch's input, where start norms make it differ from y
//   boundary{k}.normI.in  [R, C]  the input of norm I inside a chain of norms
//   boundary{k}.stats     [R, S]  every norm's per-row statistics
// Per branch instance: its saved activations, `layer{l}.<name>`; one copy per model of the
// shared ones (RoPE tables); the scratch of every branch's backward overlaid in one region,
// `grad.branch_scratch`, sized by the largest. The input stage's activations, `input.<name>`
// (its scratch in the same region: it runs after every branch's backward). Then the head's: for
// the language model's head the logits [R, V] (turned into their gradient in place) and the
// row losses; another head's own, `head.<name>`, and a loss per label. Then the backward buffers
// of the stream.
// Slots marked `backward` are scratch: nothing in them outlives the op (or the backward pass)
// that uses them.
//
// Element types: every slot is in the engine's scalar except, under ArenaTypes::bf16, the branch
// activations declared ActivationType::gemm and the logits, which are bf16 (act_ptr.hpp); the
// loss is then computed from the fp32 logits of `head.logits_chunk` rows at a time, and only its
// gradient is stored in bf16.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "../dsl/branch.hpp"
#include "../math/row_chunks.hpp"
#include "plan.hpp"
#include "schedule.hpp"

namespace mixln {

template <class Net>
struct ArenaSlots {
  using S = Schedule<Net>;
  struct Boundary {
    int f = -1, s = -1, y = -1, h = -1, stats = -1;
    std::vector<int> norm_in;  // slot holding norm i's input, in the spec's order
  };
  struct Branch {
    std::vector<int> slot;                 // per activation: its slot (saved, shared)
    std::vector<std::size_t> scratch_at;   // per activation: byte offset in the scratch region (scratch)
    std::vector<ActivationUse> use;
    std::vector<SlotType> type;            // per activation: its element type
  };
  std::array<Boundary, S::num_boundaries> boundary{};
  std::array<Branch, S::num_sublayers> branch{};
  Branch input, head;  // the model ends' activations (head: unless it is LmHead)
  int branch_out = -1, logits = -1, row_loss = -1;
  int head_chunk = -1, head_chunk_rows = 0;  // bf16 logits: the fp32 logits of a chunk of rows
  int head_weight16 = -1;                    // and lm_head's weight in bf16, rounded once a step
  int dstream = -1, dh = -1, df = -1, dskip = -1, partials = -1, scratch = -1;
};

namespace detail {
// Boundary k's slots (see above), in the order the fused op produces them; norm_in[i] is the
// slot holding norm i's input: f, s or y for the first norm of each chain, a slot of its own
// for the others.
template <class Net, int k>
void plan_boundary(ActivationPlan& p, typename ArenaSlots<Net>::Boundary& b, std::size_t R, std::size_t C) {
  using Spec = typename Schedule<Net>::template boundary<k>;
  const std::string n = "boundary" + std::to_string(k) + ".";
  b.norm_in.assign(std::size_t(Spec::num_norms), -1);
  if constexpr (Spec::nb > 0) b.f = p.add(n + "f", {R, C});
  for (int i = 1; i < Spec::nb; ++i) b.norm_in[i] = p.add(n + "norm" + std::to_string(i) + ".in", {R, C});
  if constexpr (Spec::ne > 0) b.s = p.add(n + "s", {R, C});
  for (int i = Spec::first_end + 1; i < Spec::first_start; ++i)
    b.norm_in[i] = p.add(n + "norm" + std::to_string(i) + ".in", {R, C});
  b.y = p.add(n + "y", {R, C});
  for (int i = Spec::first_start + 1; i < Spec::num_norms; ++i)
    b.norm_in[i] = p.add(n + "norm" + std::to_string(i) + ".in", {R, C});
  if constexpr (Spec::ns > 0) b.h = p.add(n + "h", {R, C});
  if constexpr (Spec::num_stats > 0) b.stats = p.add(n + "stats", {R, std::size_t(Spec::num_stats)});
  if constexpr (Spec::nb > 0) b.norm_in[0] = b.f;
  if constexpr (Spec::ne > 0) b.norm_in[Spec::first_end] = b.s;
  if constexpr (Spec::ns > 0) b.norm_in[Spec::first_start] = b.y;
}

// Declared activations: saved ones get slots `<prefix><name>`, shared ones one slot per model
// (by name), scratch ones offsets in the backward scratch region. Returns the scratch they need
// (bytes, each activation aligned to 64 bytes).
using SharedSlots = std::map<std::string, std::pair<int, std::vector<std::size_t>>>;  // name → slot, shape
template <class Branch>
std::size_t plan_declared(ActivationPlan& p, Branch& br, SharedSlots& shared, const ActivationList& acts,
                          const std::string& prefix, SlotType gemm_type) {
  std::size_t at = 0;
  for (const ActivationDecl& a : acts.items()) {
    const SlotType type = a.type == ActivationType::gemm ? gemm_type : SlotType::scalar;
    br.use.push_back(a.use);
    br.type.push_back(type);
    br.slot.push_back(-1);
    br.scratch_at.push_back(0);
    switch (a.use) {
      case ActivationUse::saved:
        br.slot.back() = p.add(prefix + a.name, a.shape, false, type);
        break;
      case ActivationUse::shared: {
        auto it = shared.find(a.name);
        if (it == shared.end()) it = shared.emplace(a.name, std::pair{p.add(a.name, a.shape), a.shape}).first;
        else if (it->second.second != a.shape)
          throw std::logic_error("two branches declare the shared activation '" + a.name +
                                 "' with different shapes");
        br.slot.back() = it->second.first;
        break;
      }
      case ActivationUse::scratch: {
        std::size_t bytes = type == SlotType::bf16 ? 2 : p.scalar_bytes;
        for (auto d : a.shape) bytes *= d;
        br.scratch_at.back() = at;
        at += (bytes + 63) / 64 * 64;
        break;
      }
    }
  }
  return at;
}
// Sub-layer k's branch activations, `layer{l}.<name>`.
template <class Net, int k>
std::size_t plan_branch(ActivationPlan& p, typename ArenaSlots<Net>::Branch& br, SharedSlots& shared, int B, int Tn,
                        SlotType gemm_type) {
  using S = Schedule<Net>;
  ActivationList acts;
  S::template branch<k>::activations(acts, std::size_t(B), std::size_t(Tn));
  return plan_declared(p, br, shared, acts, "layer" + std::to_string(S::template layer<k>) + ".", gemm_type);
}
}  // namespace detail

// A tensor of the arena at p, in its element type (act_ptr.hpp).
template <class T>
ActPtr<T> typed_act(unsigned char* p, SlotType type) {
  if (type == SlotType::bf16) return ActPtr<T>(reinterpret_cast<bf16_t*>(p));
  return ActPtr<T>(reinterpret_cast<T*>(p));
}
// Slot `slot` of the plan, in the arena at `arena`.
template <class T>
ActPtr<T> slot_act(unsigned char* arena, const ActivationPlan& plan, int slot) {
  const auto& s = plan.slots[std::size_t(slot)];
  return typed_act<T>(arena + s.offset, s.type);
}

// Declared activations (a branch's, a model end's) as the ops take them: at their slots, or at
// their offsets in the backward scratch region `scratch` (null when the plan has none).
template <class T, class Declared>
void bind_declared(std::vector<ActPtr<T>>& act, const Declared& br, const ActivationPlan& plan, unsigned char* arena,
                   unsigned char* scratch) {
  act.resize(br.slot.size());
  for (std::size_t i = 0; i < br.slot.size(); ++i)
    act[i] = br.use[i] == ActivationUse::scratch ? typed_act<T>(scratch + br.scratch_at[i], br.type[i])
                                                 : slot_act<T>(arena, plan, br.slot[i]);
}

// The element types of a plan: the size of the engine's scalar, and whether the activations
// declared ActivationType::gemm (and the logits) are stored in bf16 — under --precision bf16 on a
// backend that stores bf16 activations.
struct ArenaTypes {
  std::size_t scalar_bytes = 4;
  bool bf16 = false;
};

// The plan for [B, T] batches, and where each tensor went.
template <class Net>
ActivationPlan plan_activations(int B, int Tn, ArenaTypes types, ArenaSlots<Net>* out = nullptr) {
  using S = Schedule<Net>;
  using Cfg = typename Net::config;
  if (B <= 0 || Tn <= 0) throw std::invalid_argument("batch and sequence length must be positive");
  if ((long long)B * Tn > 2147483647ll)
    throw std::invalid_argument("batch x seq = " + std::to_string((long long)B * Tn) +
                                " rows: more than one step can hold (2147483647)");
  ActivationPlan p;
  p.scalar_bytes = types.scalar_bytes;
  const SlotType gemm_type = types.bf16 ? SlotType::bf16 : SlotType::scalar;
  ArenaSlots<Net> sl;
  const std::size_t R = std::size_t(B) * Tn, C = Cfg::hidden_size, V = Cfg::vocab_size;
  int max_params = 0;
  detail::SharedSlots shared;
  std::size_t scratch_bytes = 0;
  S::for_each_boundary([&]<int k>() {
    detail::plan_boundary<Net, k>(p, sl.boundary[k], R, C);
    max_params = std::max(max_params, S::template boundary<k>::num_params);
    if constexpr (k < S::num_sublayers)
      scratch_bytes =
          std::max(scratch_bytes, detail::plan_branch<Net, k>(p, sl.branch[k], shared, B, Tn, gemm_type));
  });
  {
    ActivationList acts;
    Net::input::activations(acts, std::size_t(B), std::size_t(Tn));
    scratch_bytes = std::max(scratch_bytes, detail::plan_declared(p, sl.input, shared, acts, "input.", gemm_type));
  }
  sl.branch_out = p.add("branch_out", {R, C});
  if constexpr (!is_lm_head_v<typename Net::head>) {
    ActivationList acts;
    Net::head::activations(acts, std::size_t(B), std::size_t(Tn));
    scratch_bytes = std::max(scratch_bytes, detail::plan_declared(p, sl.head, shared, acts, "head.", gemm_type));
    sl.row_loss = p.add("row_loss", {std::size_t(Net::head::label_count(B, Tn))});
  } else {
    sl.logits = p.add("logits", {R, V}, false, gemm_type);
    sl.row_loss = p.add("row_loss", {R});
    if (gemm_type == SlotType::bf16) {
      // bf16 logits hold the loss's gradient (and, without backward, the rounded logits): the loss
      // itself is computed from fp32 logits, a chunk of rows at a time (≤ 4 MiB, in cache).
      sl.head_chunk_rows = int(std::clamp<std::size_t>((std::size_t(4) << 20) / (p.scalar_bytes * V), 1, R));
      sl.head_chunk = p.add("head.logits_chunk", {std::size_t(sl.head_chunk_rows), V}, true);
      // lm_head's weight, rounded once for every chunk and the head's backward
      sl.head_weight16 = p.add("head.weight_bf16", {V, C}, false, SlotType::bf16);
    }
  }
  sl.dstream = p.add("grad.stream", {R, C}, true);
  sl.dh = p.add("grad.h", {R, C}, true);
  sl.df = p.add("grad.branch", {R, C}, true);
  if constexpr (S::has_skip) sl.dskip = p.add("grad.skip", {R, C}, true);
  sl.partials = p.add("grad.norm_partials", {std::size_t(partial_rows(int(R))), std::size_t(max_params + 1), C}, true);
  if (scratch_bytes > 0)
    sl.scratch = p.add("grad.branch_scratch", {(scratch_bytes + p.scalar_bytes - 1) / p.scalar_bytes}, true);
  if (out) *out = std::move(sl);
  return p;
}

}  // namespace mixln
