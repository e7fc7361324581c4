// mixln/cli/model_batches.hpp — the batches a one-off command (grads, grad-norms, the analyses)
// runs a model on: a batch file, or a budget of the validation split. A language model reads
// tokens (Batch: input_ids and labels [B, T]); a vision model reads images (ImageBatch: pixels
// [B, H, W, C] normalised as training normalises them, one label per image).
//
//   model_batches<Net>(a, state, group)   --batch FILE, or --data DIR with --eval-tokens /
//                                         --eval-images, in groups of `group` sequences or images
//   batch_input(b)                        the pointer Engine::step takes as its input
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../data/image_loader.hpp"
#include "../data/image_shards.hpp"
#include "../data/loader.hpp"
#include "../error.hpp"
#include "../io/model_io.hpp"
#include "../io/safetensors.hpp"
#include "args.hpp"

namespace mixln::cli {

template <class Net>
inline constexpr bool is_vision_model_v = !std::is_same_v<typename Net::input::input_type, std::int32_t>;

// A batch of images: pixels [B, H, W, C] as the model takes them (normalised), labels [B]
// (−100: no loss). T is the model's rows per image (patches and the class token).
struct ImageBatch {
  int B = 0, T = 0;
  std::vector<float> pixels;
  std::vector<std::int32_t> labels;
};

inline const std::int32_t* batch_input(const Batch& b) { return b.input_ids.data(); }
inline const float* batch_input(const ImageBatch& b) { return b.pixels.data(); }

template <class Net>
using ModelBatch = std::conditional_t<is_vision_model_v<Net>, ImageBatch, Batch>;

// An image batch file: pixels F32 [B, S, S, c] (normalised, the model's image) and labels [B]
// (integers; −100 or a class of the head).
template <class Net>
ImageBatch load_image_batch(const std::string& path) {
  using In = typename Net::input;
  constexpr std::size_t K = Net::head::K;
  safetensors::File f(path);
  if (!f.find("pixels")) throw file_error(path, "missing tensor 'pixels' (F32 [B, H, W, C])");
  if (!f.find("labels")) throw file_error(path, "missing tensor 'labels' ([B])");
  std::vector<std::size_t> s_lab;
  const auto lab = f.read_int("labels", &s_lab, 1);
  const std::size_t B = s_lab[0];
  if (B == 0) throw file_error(path, "labels is empty");
  const std::vector<std::size_t> want = {B, std::size_t(In::S), std::size_t(In::S), std::size_t(In::Cin)};
  const auto& info = *f.find("pixels");
  if (info.shape != want)
    throw file_error(path, "pixels has shape " + format_shape(info.shape) + ", the model takes " + format_shape(want) +
                               " for " + std::to_string(B) + " labels");
  ImageBatch b;
  b.B = int(B);
  b.T = In::fixed_seq;
  b.pixels.resize(B * In::S * In::S * In::Cin);
  f.read_float("pixels", want, b.pixels.data());
  for (std::size_t i = 0; i < B; ++i)
    if (lab[i] != -100 && (lab[i] < 0 || std::size_t(lab[i]) >= K))
      throw file_error(path, "labels[" + std::to_string(i) + "] = " + std::to_string(lab[i]) +
                                 " is neither -100 nor a class of the head [0, " + std::to_string(K) + ")");
  b.labels.assign(lab.begin(), lab.end());
  return b;
}

// The first `count` validation images of DIR (all if fewer), normalised by the training split's
// pixel statistics as training and `eval` normalise them, in batches of `group`.
template <class Net>
std::vector<ImageBatch> validation_image_batches(const std::string& dir, long long count, int group) {
  using In = typename Net::input;
  const ImageSplit train(dir, "train"), val(dir, "val");
  if (val.height() != In::S || val.width() != In::S || val.channels() != In::Cin)
    throw file_error(dir, "val images are " + std::to_string(val.height()) + "x" + std::to_string(val.width()) + "x" +
                              std::to_string(val.channels()) + ", the model takes " + std::to_string(In::S) + "x" +
                              std::to_string(In::S) + "x" + std::to_string(In::Cin));
  if (std::size_t(val.classes()) != Net::head::K)
    throw file_error(dir, "val labels have " + std::to_string(val.classes()) + " classes, the model's head " +
                              std::to_string(Net::head::K));
  if (val.size() == 0) throw file_error(dir, "val split holds no image");
  ImageLoader loader(val, pixel_statistics(train), 0, /*shuffle=*/false);
  const std::uint64_t n = std::min<std::uint64_t>(std::uint64_t(count), val.size());
  std::vector<ImageBatch> out;
  for (std::uint64_t s = 0; s < n; s += std::uint64_t(group)) {
    ImageBatch b;
    b.B = int(std::min<std::uint64_t>(std::uint64_t(group), n - s));
    b.T = In::fixed_seq;
    b.pixels.resize(In::input_count(b.B, b.T));
    b.labels.resize(std::size_t(b.B));
    loader.fill(s, b.B, b.pixels.data(), b.labels.data());
    out.push_back(std::move(b));
  }
  return out;
}

// ⌈eval_tokens / T⌉ validation windows of DIR in batches of `group` sequences.
inline std::vector<Batch> validation_token_batches(const std::string& dir, std::size_t vocab, int seq,
                                                   long long eval_tokens, int group) {
  TokenStream val(find_shards(dir, "val"), vocab);
  WindowLoader loader(val, seq, 0, false, "validation split");
  const std::uint64_t n = std::min<std::uint64_t>(std::uint64_t((eval_tokens + seq - 1) / seq), loader.windows());
  std::vector<Batch> out;
  for (std::uint64_t s = 0; s < n; s += std::uint64_t(group)) {
    Batch b;
    b.B = int(std::min<std::uint64_t>(std::uint64_t(group), n - s));
    b.T = seq;
    b.input_ids.resize(std::size_t(b.B) * seq);
    b.labels.resize(b.input_ids.size());
    loader.fill(s, b.B, b.input_ids.data(), b.labels.data());
    out.push_back(std::move(b));
  }
  return out;
}

// The flags that choose a command's batches: --batch FILE, or --data DIR with a budget.
// default_images: the vision budget's default (--eval-images).
template <class Net>
std::vector<Option> batch_source_options(long long default_images) {
  if constexpr (is_vision_model_v<Net>)
    return {{"batch", true, "B.safetensors: pixels F32 [B, H, W, C] (normalised) and labels [B] (or use --data)"},
            {"data", true, "DIR: made by mixln-prepare-images; its first validation images instead of --batch"},
            {"eval-images", true, "N: validation images with --data (" + std::to_string(default_images) + ")"}};
  else
    return {{"batch", true, "B.safetensors: input_ids and labels [B, T] (or use --data)"},
            {"data", true, "DIR: read the validation split instead of --batch"},
            {"eval-tokens", true, "N: validation tokens with --data (65536)"},
            {"seq", true, "T: tokens per sequence with --data (the run's, with --ckpt; else 256)"}};
}

// The batches of --batch FILE (one) or --data DIR (the first --eval-tokens tokens or
// --eval-images images of its validation split, in groups of `group`). state: the checkpoint's
// state (its training sequence length is --seq's default).
template <class Net>
std::vector<ModelBatch<Net>> model_batches(const Args& a, const nlohmann::json& state, int group,
                                           long long default_images) {
  const bool file = a.has("batch"), data = a.has("data");
  if (file == data)
    throw Error(std::string("give the ") + (is_vision_model_v<Net> ? "images" : "tokens") +
                " as --batch B.safetensors or as --data DIR (one of them)");
  if constexpr (is_vision_model_v<Net>) {
    if (file) return {load_image_batch<Net>(a.required("batch"))};
    return validation_image_batches<Net>(a.required("data"), a.integer("eval-images", default_images, 1), group);
  } else {
    if (file) return {load_batch(a.required("batch"), Net::config::vocab_size)};
    int seq = 256;
    if (state.contains("train")) seq = state["train"].value("seq", 256);
    seq = a.int32("seq", seq, 1);
    return validation_token_batches(a.required("data"), Net::config::vocab_size, seq, a.integer("eval-tokens", 65536, 1),
                                    group);
  }
}

}  // namespace mixln::cli
