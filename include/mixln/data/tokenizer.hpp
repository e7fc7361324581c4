// mixln/data/tokenizer.hpp — SentencePiece, trained on the corpus (docs/design.md §4.4).
//
// The tokenizer keeps text exactly: no Unicode normalisation, whitespace kept as written, and
// byte fallback, so any UTF-8 string — accents, CJK, emoji, newlines — decodes back to itself.
// Ids: 0 = <unk>, 1 = <s>, 2 = </s> (ends every document in the token stream); no padding id.
#pragma once

#include <fcntl.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln {

struct TokenizerTrainOptions {
  int vocab_size = 4096;
  std::string model_type = "unigram";  // or "bpe"
  int threads = 2;
  long long max_sentences = 2000000;   // sampled from the corpus for training
  std::uint64_t seed = 0;
};

class Tokenizer {
 public:
  Tokenizer() = default;
  explicit Tokenizer(const std::string& model_path) { load(model_path); }

  // A malformed model is refused with an Error naming the file. SentencePiece reports most
  // defects in its status, but some only by an exception of its own (a piece that begins with a
  // NUL byte makes its trie builder throw): those become the same Error.
  void load(const std::string& model_path) {
    sentencepiece::util::Status st;
    try {
      st = sp_.Load(model_path);
    } catch (const std::exception& e) {
      throw file_error(model_path, std::string("cannot load the SentencePiece model: ") + e.what());
    }
    if (!st.ok()) throw file_error(model_path, "cannot load the SentencePiece model: " + st.ToString());
    path_ = model_path;
  }

  // Trains on `files` (UTF-8 text, one sentence per line is best) and writes
  // `<prefix>.model` and `<prefix>.vocab`.
  static void train(const std::vector<std::string>& files, const std::string& prefix,
                    const TokenizerTrainOptions& opt) {
    if (opt.model_type != "unigram" && opt.model_type != "bpe")
      throw Error("--model-type: '" + opt.model_type + "' is neither unigram nor bpe");
    std::string inputs;
    for (auto& f : files) inputs += (inputs.empty() ? "" : ",") + f;
    const std::string args =
        "--input=" + inputs + " --model_prefix=" + prefix +
        " --vocab_size=" + std::to_string(opt.vocab_size) + " --model_type=" + opt.model_type +
        " --character_coverage=0.9995 --byte_fallback=true --normalization_rule_name=identity"
        " --remove_extra_whitespaces=false --split_digits=true --allow_whitespace_only_pieces=true"
        " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1"
        " --input_sentence_size=" + std::to_string(opt.max_sentences) +
        " --shuffle_input_sentence=true --num_threads=" + std::to_string(opt.threads) +
        " --hard_vocab_limit=true --minloglevel=2";
    sentencepiece::SetRandomGeneratorSeed(unsigned(opt.seed % 4294967291ull) + 1u);
    // SentencePiece logs its command line to stderr whatever the log level; keep it quiet.
    std::fflush(stderr);
    const int saved = ::dup(2), null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 2);
    const auto st = sentencepiece::SentencePieceTrainer::Train(args);
    if (saved >= 0) ::dup2(saved, 2), ::close(saved);
    if (null >= 0) ::close(null);
    if (!st.ok()) throw Error("SentencePiece training failed: " + st.ToString());
  }

  std::vector<int> encode(const std::string& text) const {
    std::vector<int> ids;
    const auto st = guarded("encoding", [&] { return sp_.Encode(text, &ids); });
    if (!st.ok()) throw Error("tokenizer: encoding failed: " + st.ToString());
    return ids;
  }
  std::string decode(const std::vector<int>& ids) const {
    std::string text;
    const auto st = guarded("decoding", [&] { return sp_.Decode(ids, &text); });
    if (!st.ok()) throw Error("tokenizer: decoding failed: " + st.ToString());
    return text;
  }
  int vocab_size() const { return sp_.GetPieceSize(); }
  int eos_id() const { return sp_.eos_id(); }
  int bos_id() const { return sp_.bos_id(); }
  const std::string& path() const { return path_; }

 private:
  // Runs a SentencePiece call; an exception of its own becomes an Error naming the model.
  template <class Call>
  sentencepiece::util::Status guarded(const char* what, Call&& call) const {
    try {
      return call();
    } catch (const std::exception& e) {
      throw Error("tokenizer " + path_ + ": " + what + " failed: " + e.what());
    }
  }

  sentencepiece::SentencePieceProcessor sp_;
  std::string path_;
};

}  // namespace mixln
