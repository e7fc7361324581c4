// mixln/dsl/vision_ends.hpp — a Vision Transformer's ends (Model's fifth and sixth arguments,
// dsl/model_ends.hpp), as timm's VisionTransformer has them with global_pool = "token":
//
//   PatchEmbedding<Cfg, image<S>, patch<P>, channels<c>>
//     images [B, S, S, c] (floats, channels last) → non-overlapping P×P patches, one GEMM with
//     a bias (timm's patch_embed.proj, a stride-P convolution), a class token before them,
//     learned position embeddings added to all T = 1 + (S/P)² rows:
//       row 0 = cls_token + pos_embed[0],  row 1 + i = proj(patch i) + pos_embed[1 + i]
//     weights model.patch_embed.proj.weight [C, c·P·P] (conv order: channel, ky, kx),
//     model.patch_embed.proj.bias [C], model.cls_token [1, C], model.pos_embed [T, C]; the last
//     two are embeddings without weight decay (timm's no_weight_decay).
//   ClassHead<Cfg, classes<K>>
//     the final norm's class-token row → head [K, C] with a bias → cross-entropy over classes, a
//     label per image: weights head.weight [K, C], head.bias [K].
//
//   using Vit = Model<Cfg, MixLN<VitBlock<Cfg>, 12, std::ratio<1, 4>, LayerNorm>, LayerNorm, PlainEmbedding,
//                     PatchEmbedding<Cfg, image<28>, patch<4>, channels<1>>, ClassHead<Cfg, classes<10>>>;
#pragma once

#include <cstddef>
#include <cstdint>

#include "../math/norm_rows.hpp"
#include "model_ends.hpp"

namespace mixln {

template <std::size_t N>
struct image {
  static constexpr std::size_t value = N;  // side of a square image, in pixels
};
template <std::size_t N>
struct patch {
  static constexpr std::size_t value = N;  // side of a square patch
};
template <std::size_t N>
struct channels {
  static constexpr std::size_t value = N;  // 1: grey, 3: RGB
};
template <std::size_t N>
struct classes {
  static constexpr std::size_t value = N;
};

template <class Cfg, class Image, class Patch, class Channels = channels<1>>
struct PatchEmbedding : input_stage_tag {
  static constexpr std::size_t S = Image::value, Pz = Patch::value, Cin = Channels::value, C = Cfg::hidden_size;
  static_assert(S > 0 && Pz > 0 && Cin > 0, "PatchEmbedding: image, patch and channels must be positive");
  static_assert(S % Pz == 0, "PatchEmbedding: the patch size must divide the image size");
  static constexpr std::size_t grid = S / Pz, P = grid * grid, K = Cin * Pz * Pz;
  static constexpr const char* name = "patches";
  using input_type = float;
  static constexpr int fixed_seq = int(P + 1);  // the class token and the patches
  static std::size_t input_count(int B, int) { return std::size_t(B) * S * S * Cin; }

  enum Weight : int { proj_weight, proj_bias, cls_token, pos_embed };
  enum Act : int {
    patches,   // [B·P, K] the patches as GEMM rows (kept for proj's weight gradient)
    proj,      // [B·P, C] proj(patches) + bias, before the rows are assembled
    dproj,     // [B·P, C] scratch: the patch rows' gradient
    dpatches,  // [B·P, K] scratch: the patches' gradient (not needed; the GEMM writes it)
    dcls,      // [B, C] scratch: the class-token rows' gradient
  };

  static void weights(WeightList& w) {
    w.linear(proj_weight, "model.patch_embed.proj.weight", C, K);
    w.bias(proj_bias, "model.patch_embed.proj.bias", C);
    w.embedding(cls_token, "model.cls_token", {1, C}, /*decay=*/false);
    w.embedding(pos_embed, "model.pos_embed", {P + 1, C}, /*decay=*/false);
  }
  static void activations(ActivationList& a, std::size_t B, std::size_t) {
    a.saved(patches, "patches", {B * P, K});
    a.saved(proj, "patch_proj", {B * P, C});
    a.scratch(dproj, "patch_proj", {B * P, C});
    a.scratch(dpatches, "patches", {B * P, K});
    a.scratch(dcls, "cls", {B, C});
  }

  template <class Backend, class T>
  static void forward(const InputIO<T, input_type>& io) {
    const int B = io.batch, BP = int(B * P);
    const std::size_t TC = std::size_t(P + 1) * C;  // one image's rows
    T *pt = io.act[patches], *pr = io.act[proj];
    Backend::patchify(B, int(S), int(S), int(Cin), int(Pz), io.input, pt);
    Backend::linear_forward(io.precision, BP, int(C), int(K), pt, io.w[proj_weight], pr);
    Backend::bias_forward(BP, int(C), io.w[proj_bias], pr);
    Backend::copy_rows(BP, int(C), RowsView<const T>{pr, 1, C}, RowsView<T>{io.out + C, int(P), TC});
    Backend::copy_rows(B, int(C), RowsView<const T>{io.w[cls_token], 1, 0}, RowsView<T>{io.out, 1, TC});
    Backend::bias_forward(B, int(TC), io.w[pos_embed], io.out);  // every image's rows += pos_embed
  }

  template <class Backend, class T>
  static void backward(const InputIO<T, input_type>& io) {
    const int B = io.batch, BP = int(B * P);
    const std::size_t TC = std::size_t(P + 1) * C;
    T *dp = io.act[dproj], *dc = io.act[dcls];
    Backend::bias_backward(B, int(TC), io.dout, io.dw[pos_embed]);
    Backend::copy_rows(B, int(C), RowsView<const T>{io.dout, 1, TC}, RowsView<T>{dc, 1, C});
    Backend::bias_backward(B, int(C), dc, io.dw[cls_token]);
    Backend::copy_rows(BP, int(C), RowsView<const T>{io.dout + C, int(P), TC}, RowsView<T>{dp, 1, C});
    Backend::bias_backward(BP, int(C), dp, io.dw[proj_bias]);
    Backend::linear_backward(io.precision, BP, int(C), int(K), dp, io.act[patches], io.w[proj_weight],
                             io.act[dpatches], io.dw[proj_weight]);
  }
};

template <class Cfg, class Classes>
struct ClassHead : head_tag {
  static constexpr std::size_t C = Cfg::hidden_size, K = Classes::value;
  static_assert(K >= 2, "ClassHead: classify into at least 2 classes");
  static constexpr const char* name = "class_head";
  static int label_count(int B, int) { return B; }  // one class label per image

  enum Weight : int { weight, bias };
  enum Act : int {
    pooled,   // [B, C] the class-token row of each image
    logits,   // [B, K] then, with grad, their gradient
    dpooled,  // [B, C] scratch
  };

  static void weights(WeightList& w) {
    w.head(weight, "head.weight", K, C);
    w.bias(bias, "head.bias", K);
  }
  static void activations(ActivationList& a, std::size_t B, std::size_t) {
    a.saved(pooled, "pooled", {B, C});
    a.saved(logits, "logits", {B, K});
    a.scratch(dpooled, "pooled", {B, C});
  }

  template <class Backend, class T>
  static void forward(const HeadIO<T>& io) {
    const int B = io.batch;
    const std::size_t TC = std::size_t(io.seq) * C;
    T *pl = io.act[pooled], *lg = io.act[logits];
    Backend::copy_rows(B, int(C), RowsView<const T>{io.x, 1, TC}, RowsView<T>{pl, 1, C});
    Backend::linear_forward(io.precision, B, int(K), int(C), pl, io.w[weight], lg);
    Backend::bias_forward(B, int(K), io.w[bias], lg);
    Backend::cross_entropy(B, int(K), lg, io.labels, io.grad_divisor, io.grad, lg, io.row_loss, io.loss_sum);
  }

  // From the logits' gradient (forward with grad left it in `logits`).
  template <class Backend, class T>
  static void backward(const HeadIO<T>& io) {
    const int B = io.batch;
    const std::size_t TC = std::size_t(io.seq) * C;
    T *lg = io.act[logits], *dp = io.act[dpooled];
    Backend::bias_backward(B, int(K), lg, io.dw[bias]);
    Backend::linear_backward(io.precision, B, int(K), int(C), lg, io.act[pooled], io.w[weight], dp, io.dw[weight]);
    Backend::zero(io.dx, std::size_t(B) * TC);  // only the class-token rows have a gradient
    Backend::copy_rows(B, int(C), RowsView<const T>{dp, 1, C}, RowsView<T>{io.dx, 1, TC});
  }
};

}  // namespace mixln
