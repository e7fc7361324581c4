// mixln/dsl/model_ends.hpp — a model's two ends as types: its input stage, which turns the
// batch's input into the rows of the residual stream, and its head, which turns the final
// norm's rows into a loss. Model's fifth and sixth arguments; the language model's pair —
// TokenEmbedding and LmHead — is the default. A Vision Transformer's pair is
// dsl/vision_ends.hpp's PatchEmbedding and ClassHead.
//
// An input stage has (the InputStage concept below; a branch's interface, dsl/branch.hpp, with
// the input in place of h):
//   using input_type;                                  the element of the input (token id, pixel)
//   static constexpr int fixed_seq;                    rows per sample it makes; 0: any (tokens)
//   static std::size_t input_count(int B, int T);      input elements of a [B, T] batch
//   static void weights(WeightList&);                  full names ("model.embed_tokens.weight")
//   static void activations(ActivationList&, std::size_t B, std::size_t T);
//   template <class Backend, class T> static void forward(const InputIO<T, input_type>&);
//   template <class Backend, class T> static void backward(const InputIO<T, input_type>&);
// forward writes io.out (=), the rows entering boundary 0; backward reads io.dout and
// accumulates io.dw (+=). A head has:
//   static int label_count(int B, int T);              labels of a [B, T] batch (−100: none)
//   static void weights(WeightList&);                  full names ("lm_head.weight")
// and, unless it is LmHead (whose loss over [B·T, V] logits, chunked under bf16, is the
// engine's own: schedule/head_loss.hpp), activations(...), forward(const HeadIO<T>&) and
// backward(const HeadIO<T>&): forward adds the loss sum of the labels to *io.loss_sum and each
// label's loss to io.row_loss; backward writes io.dx (=, every row) and accumulates io.dw.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "../act_ptr.hpp"
#include "../precision.hpp"
#include "branch.hpp"

namespace mixln {

struct input_stage_tag {};
struct head_tag {};

template <class T, class In>
struct InputIO {
  int batch = 0, seq = 0;        // B samples of seq rows each
  const In* input = nullptr;     // the batch's input: input_count(B, seq) elements (backend memory)
  T* out = nullptr;              // [B·seq, C] the rows entering boundary 0   (forward, =)
  const T* dout = nullptr;       // [B·seq, C] their gradient                  (backward)
  T* const* w = nullptr;         // the stage's weights, in declared order
  T* const* dw = nullptr;        // their gradients                            (backward, +=)
  const ActPtr<T>* act = nullptr;
  Precision precision = Precision::fp32;
  int rows() const { return batch * seq; }
};

template <class T>
struct HeadIO {
  int batch = 0, seq = 0;
  const T* x = nullptr;                  // [B·seq, C] the final norm's output
  T* dx = nullptr;                       // [B·seq, C] its gradient                  (backward, =)
  const std::int32_t* labels = nullptr;  // label_count(B, seq) labels, −100: ignored
  int grad_divisor = 0;                  // the loss gradient is of (loss sum) / grad_divisor
  bool grad = false;                     // forward also prepares backward's gradient
  T* row_loss = nullptr;                 // [label_count] each label's loss
  double* loss_sum = nullptr;            // += the batch's loss sum (backend memory)
  T* const* w = nullptr;
  T* const* dw = nullptr;
  const ActPtr<T>* act = nullptr;
  Precision precision = Precision::fp32;
};

// The language model's input: token ids → rows of the embedding table.
//   model.embed_tokens.weight [V, C]
template <class Cfg>
struct TokenEmbedding : input_stage_tag {
  static_assert(Cfg::vocab_size > 0, "TokenEmbedding: the model's config needs vocab<V>");
  static constexpr const char* name = "tokens";
  static constexpr std::size_t V = Cfg::vocab_size, C = Cfg::hidden_size;
  using input_type = std::int32_t;
  static constexpr int fixed_seq = 0;
  static std::size_t input_count(int B, int T) { return std::size_t(B) * std::size_t(T); }

  enum Weight : int { table };
  static void weights(WeightList& w) { w.embedding(table, "model.embed_tokens.weight", {V, C}); }
  static void activations(ActivationList&, std::size_t, std::size_t) {}

  template <class Backend, class T>
  static void forward(const InputIO<T, input_type>& io) {
    Backend::embedding_forward(io.rows(), int(C), io.input, io.w[table], io.out);
  }
  template <class Backend, class T>
  static void backward(const InputIO<T, input_type>& io) {
    Backend::embedding_backward(io.rows(), int(C), io.input, io.dout, io.dw[table]);
  }
};

// The language model's head: untied lm_head [V, C] and the token cross-entropy, a label per row
// (schedule/head_loss.hpp).
template <class Cfg>
struct LmHead : head_tag {
  static_assert(Cfg::vocab_size > 0, "LmHead: the model's config needs vocab<V>");
  static constexpr const char* name = "lm_head";
  static constexpr std::size_t V = Cfg::vocab_size, C = Cfg::hidden_size;
  static int label_count(int B, int T) { return B * T; }
  static void weights(WeightList& w) { w.head(0, "lm_head.weight", V, C); }
};

template <class I>
inline constexpr bool is_token_embedding_v = false;
template <class Cfg>
inline constexpr bool is_token_embedding_v<TokenEmbedding<Cfg>> = true;

template <class H>
inline constexpr bool is_lm_head_v = false;
template <class Cfg>
inline constexpr bool is_lm_head_v<LmHead<Cfg>> = true;

// --- concepts ---------------------------------------------------------------------------------
template <class I>
concept InputStage = std::is_base_of_v<input_stage_tag, I> && requires(WeightList& w, ActivationList& a) {
  typename I::input_type;
  { I::fixed_seq } -> std::convertible_to<int>;
  { I::input_count(1, 1) } -> std::convertible_to<std::size_t>;
  I::weights(w);
  I::activations(a, std::size_t(1), std::size_t(1));
};

template <class H>
concept ModelHead = std::is_base_of_v<head_tag, H> && requires(WeightList& w, ActivationList& a) {
  { H::label_count(1, 1) } -> std::convertible_to<int>;
  H::weights(w);
} && (is_lm_head_v<H> || requires(ActivationList& a) { H::activations(a, std::size_t(1), std::size_t(1)); });

template <class I>
struct check_input_stage {
  static_assert(std::is_base_of_v<input_stage_tag, I>,
                "Model: the fifth argument must be an input stage (TokenEmbedding<Cfg>, PatchEmbedding<...>, or a "
                "type deriving from mixln::input_stage_tag: see dsl/model_ends.hpp)");
  static_assert(!std::is_base_of_v<input_stage_tag, I> || InputStage<I>,
                "Model: an input stage must define input_type, fixed_seq, input_count(B, T), weights(WeightList&) "
                "and activations(ActivationList&, B, T) (see dsl/model_ends.hpp)");
  static constexpr bool value = InputStage<I>;
};
template <class H>
struct check_head {
  static_assert(std::is_base_of_v<head_tag, H>,
                "Model: the sixth argument must be a head (LmHead<Cfg>, ClassHead<...>, or a type deriving from "
                "mixln::head_tag: see dsl/model_ends.hpp)");
  static_assert(!std::is_base_of_v<head_tag, H> || ModelHead<H>,
                "Model: a head must define label_count(B, T), weights(WeightList&) and, unless it is LmHead, "
                "activations(ActivationList&, B, T) (see dsl/model_ends.hpp)");
  static constexpr bool value = ModelHead<H>;
};

}  // namespace mixln
