// mixln/train/train_data.hpp — what a model trains on, chosen by its input stage
// (dsl/model_ends.hpp): token shards for a language model (TokenData), image splits for a
// vision model (ImageData). The trainer (train/trainer.hpp) asks a TrainData for
//   fill(sequence, B, input, labels)   the training micro-batch read as the sequence-th sample on
//   labels_per_sample(o)               T tokens, or 1 image
//   evaluate(e, o, comm)               the validation result (and its log fields)
// and nothing else of the data, so the loop, the optimizer and the checkpoints are one code.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "../data/image_loader.hpp"
#include "../data/image_shards.hpp"
#include "../data/loader.hpp"
#include "../data/shards.hpp"
#include "../dist/communicator.hpp"
#include "../error.hpp"
#include "evaluate.hpp"
#include "options.hpp"

namespace mixln {

// Token shards (mixln-prepare): every id within the model's vocabulary, both splits long enough
// for one window of --seq tokens.
template <class Net>
struct TokenData {
  TokenStream train, val;
  WindowLoader loader;
  explicit TokenData(const TrainOptions& o)
      : train(find_shards(o.data, "train"), Net::config::vocab_size),
        val(find_shards(o.data, "val"), Net::config::vocab_size),
        loader((check_vocab(o.data, train, "train"), train), o.seq, o.seed, /*shuffle=*/true, "training split") {
    WindowLoader(val, o.seq, 0, /*shuffle=*/false, "validation split");  // throws if too short
  }
  static void check_vocab(const std::string& dir, const TokenStream& s, const char* split) {
    const int v = s.info(0).vocab_size;
    if (v > 0 && std::size_t(v) != Net::config::vocab_size)
      throw file_error(dir, std::string(split) + " shards were made with vocab " + std::to_string(v) +
                                ", but the model's vocab is " + std::to_string(Net::config::vocab_size));
  }
  static constexpr const char* unit = "tokens";
  static long long labels_per_sample(const TrainOptions& o) { return o.seq; }
  void fill(std::uint64_t sequence, int B, std::int32_t* input, std::int32_t* labels) {
    loader.fill(sequence, B, input, labels);
  }
  template <class E>
  EvalResult evaluate(E& e, const TrainOptions& o, Communicator* comm) const {
    return mixln::evaluate(e, val, o.eval_tokens, o.batch, o.seq, comm);
  }
};

// Image splits (mixln-prepare-images): the images of the model's size and channels, labels
// below its classes; pixels normalised with the training split's per-channel statistics;
// training in a new order each epoch, with the run's augmentation.
template <class Net>
struct ImageData {
  using Input = typename Net::input;
  ImageSplit train, val;
  PixelStatistics stats;
  ImageLoader loader;
  explicit ImageData(const TrainOptions& o)
      : train(o.data, "train"),
        val(o.data, "val"),
        stats(pixel_statistics(train)),
        loader(train, stats, o.seed, /*shuffle=*/true, ImageAugment{o.crop_pad, o.flip}) {
    check_split(o.data, train, "train");
    check_split(o.data, val, "val");
  }
  static void check_split(const std::string& dir, const ImageSplit& s, const char* split) {
    if (s.height() != Input::S || s.width() != Input::S || s.channels() != Input::Cin)
      throw file_error(dir, std::string(split) + " images are " + std::to_string(s.height()) + "x" +
                                std::to_string(s.width()) + "x" + std::to_string(s.channels()) + ", the model takes " +
                                std::to_string(Input::S) + "x" + std::to_string(Input::S) + "x" +
                                std::to_string(Input::Cin));
    if (std::size_t(s.classes()) != Net::head::K)
      throw file_error(dir, std::string(split) + " labels have " + std::to_string(s.classes()) +
                                " classes, the model's head " + std::to_string(Net::head::K));
    if (s.size() == 0) throw file_error(dir, std::string(split) + " split holds no image");
  }
  static constexpr const char* unit = "images";
  static long long labels_per_sample(const TrainOptions&) { return 1; }
  void fill(std::uint64_t sequence, int B, float* input, std::int32_t* labels) { loader.fill(sequence, B, input, labels); }
  template <class E>
  EvalResult evaluate(E& e, const TrainOptions& o, Communicator* comm) const {
    return evaluate_images(e, val, stats, o.eval_images, o.batch, comm);
  }
};

template <class Net>
using TrainData = std::conditional_t<std::is_same_v<typename Net::input::input_type, std::int32_t>, TokenData<Net>,
                                     ImageData<Net>>;

}  // namespace mixln
