// mixln/dsl/branch.hpp — what a branch F of a block declares, and what it is handed to run.
//
// A block (the Block concept of dsl/concepts.hpp; LLaMA's is dsl/llama_block.hpp) is a list of
// branches; each branch maps its input h [B·T, C] to its output F(h) [B·T, C] and owns
// everything in between. A branch type has:
//
//   static constexpr const char* name;                          "attention", "swiglu_mlp"
//   static void weights(WeightList& w);                         its weights, in order
//   static void activations(ActivationList& a, size_t B, size_t T);  its activation tensors
//   template <class Backend, class T> static void forward(const BranchIO<T>& io);
//   template <class Backend, class T> static void backward(const BranchIO<T>& io);
//   template <class Backend, class T> static void prepare(const BranchIO<T>& io);  // optional
//
// Weights and activations are numbered in the order they are declared; the branch reads them
// as io.w[i], io.dw[i], io.act[i], and each declaration passes the number it expects, so a
// branch whose enum and declarations disagree fails with a clear message when the model is
// built. A branch's weights lie contiguously in declared order (q, k, v declared in a row form
// one [3C, C] matrix at io.w[q]).
//
// forward writes io.out (=) and may write its saved activations; backward reads io.dout and
// the saved activations, writes io.din (=) and accumulates io.dw (+=). An activation declared
// ActivationType::gemm may be stored in bf16 (act_ptr.hpp); one declared scalar is always a T*. Ops come from the
// Backend (cpu::Backend, cuda::Backend): linear_forward, attention_forward, norm_rows_forward,
// map_forward, ... (backend_ops.hpp lists them), so one branch runs on every backend. The ops
// that multiply matrices take the engine's GEMM precision first: io.precision.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../act_ptr.hpp"
#include "../hf_module.hpp"
#include "../precision.hpp"

namespace mixln {

// What a normal-initialised weight is, for its init std and for `info`: a block's linear map,
// an embedding (σ_embed: the token table, a ViT's class token and position embedding), or a head.
enum class WeightRole { linear, embedding, head };

// One parameter tensor of a block (or of a norm): its name after `model.layers.{i}.` (a model
// end's: its full name), its shape, its initialisation and whether weight decay applies.
struct WeightDecl {
  std::string name;
  std::vector<std::size_t> shape;
  bool normal_init = true;       // N(0, σ·gain); otherwise the constant `value`
  double value = 0;
  bool residual_output = false;  // writes into the residual stream: σ/√(2L) under --scaled-init
  bool decay = true;             // matrices decay; biases and norm parameters do not
  bool norm = false;             // a norm's parameter
  WeightRole role = WeightRole::linear;
};

class WeightList {
 public:
  // A linear map stored [rows, cols] = [out, in], as nn.Linear.
  void linear(int index, std::string name, std::size_t rows, std::size_t cols, bool residual_output = false) {
    expect(index, name);
    items_.push_back({std::move(name), {rows, cols}, true, 0.0, residual_output, true, false});
  }
  // An embedding (normal init with the embedding's σ), decayed or not (timm does not decay a
  // ViT's class token and position embedding).
  void embedding(int index, std::string name, std::vector<std::size_t> shape, bool decay = true) {
    expect(index, name);
    items_.push_back({std::move(name), std::move(shape), true, 0.0, false, decay, false, WeightRole::embedding});
  }
  // A head's weight [rows, cols] (normal init with the linears' σ, decayed).
  void head(int index, std::string name, std::size_t rows, std::size_t cols) {
    expect(index, name);
    items_.push_back({std::move(name), {rows, cols}, true, 0.0, false, true, false, WeightRole::head});
  }
  // A linear layer's bias [n], initialised to 0, without weight decay (as timm and Hugging Face
  // train them).
  void bias(int index, std::string name, std::size_t n) {
    expect(index, name);
    items_.push_back({std::move(name), {n}, false, 0.0, false, false, false});
  }
  // The parameters of norm kind K over n channels: `name.weight`, `name.bias`, ... in K's
  // order (a scalar parameter has shape [1]).
  template <class K>
  void norm(int index, const std::string& name, std::size_t n) {
    expect(index, name);
    for (const auto& p : K::params)
      items_.push_back({name + "." + p.suffix, {p.per_channel ? n : 1}, false, p.init, false, false, true});
  }
  const std::vector<WeightDecl>& items() const { return items_; }

 private:
  void expect(int index, const std::string& name) const {
    if (index != int(items_.size()))
      throw std::logic_error("branch weight '" + name + "' is declared as number " + std::to_string(index) +
                             " but is number " + std::to_string(items_.size()) +
                             " in declaration order (the branch's enum and its weights() disagree)");
  }
  std::vector<WeightDecl> items_;
};

enum class ActivationUse {
  saved,    // written by forward, read by backward: one tensor per branch instance
  scratch,  // used inside backward only: the memory is shared with every other branch
  shared,   // one tensor per model, by name, filled by prepare() (e.g. the RoPE tables)
};

// The element type an activation is stored in (act_ptr.hpp).
enum class ActivationType {
  scalar,  // the engine's scalar, always: io.act[i] converts to T*
  gemm,    // a GEMM's input or output that nothing else needs in full precision: bf16 under
           // --precision bf16 where the backend stores bf16 (Backend::bf16_activations), the
           // scalar otherwise; the branch passes io.act[i] to ops that take an ActPtr
};

struct ActivationDecl {
  std::string name;
  std::vector<std::size_t> shape;
  ActivationUse use = ActivationUse::saved;
  ActivationType type = ActivationType::scalar;
};

class ActivationList {
 public:
  void saved(int index, std::string name, std::vector<std::size_t> shape,
             ActivationType type = ActivationType::scalar) {
    add(index, std::move(name), std::move(shape), ActivationUse::saved, type);
  }
  void scratch(int index, std::string name, std::vector<std::size_t> shape,
               ActivationType type = ActivationType::scalar) {
    add(index, std::move(name), std::move(shape), ActivationUse::scratch, type);
  }
  void shared(int index, std::string name, std::vector<std::size_t> shape) {
    add(index, std::move(name), std::move(shape), ActivationUse::shared, ActivationType::scalar);
  }
  const std::vector<ActivationDecl>& items() const { return items_; }

 private:
  void add(int index, std::string name, std::vector<std::size_t> shape, ActivationUse use, ActivationType type) {
    if (index != int(items_.size()))
      throw std::logic_error("branch activation '" + name + "' is declared as number " + std::to_string(index) +
                             " but is number " + std::to_string(items_.size()) +
                             " in declaration order (the branch's enum and its activations() disagree)");
    items_.push_back({std::move(name), std::move(shape), use, type});
  }
  std::vector<ActivationDecl> items_;
};

// What one branch instance (layer l, branch b) runs on. Pointers are the backend's (device
// pointers on CUDA).
template <class T>
struct BranchIO {
  int batch = 0, seq = 0;
  const T* in = nullptr;    // [B·T, C] the branch input h
  T* out = nullptr;         // [B·T, C] F(h)                          (forward, =)
  const T* dout = nullptr;  // [B·T, C] gradient of F(h)              (backward)
  T* din = nullptr;         // [B·T, C] gradient of h                 (backward, =)
  T* const* w = nullptr;    // weights, in declared order
  T* const* dw = nullptr;   // their gradients                        (backward, +=)
  const ActPtr<T>* act = nullptr;  // activations, in declared order (T* for ActivationType::scalar)
  Precision precision = Precision::fp32;  // of the GEMMs: the first argument of linear_* and attention_*
  int rows() const { return batch * seq; }
};

}  // namespace mixln
