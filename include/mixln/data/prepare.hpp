// mixln/data/prepare.hpp — text files → tokenizer + train/val token shards (`mixln-prepare`).
//
// Documents: each input file is one document; a single input file is split into documents at
// blank lines. Documents are shuffled with the seed and the first ⌈val_frac · D⌉ (at least
// one) go to validation. The tokenizer is trained on the training documents only, then every
// document is encoded and ended with </s>.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/atomic_file.hpp"
#include "../rng.hpp"
#include "shards.hpp"
#include "tokenizer.hpp"

namespace mixln {

struct PrepareOptions {
  std::vector<std::string> texts;
  int vocab_size = 4096;
  std::string out;
  double val_frac = 0.05;
  std::uint64_t seed = 0;
  std::string model_type = "unigram";
  int threads = 2;
};

struct PrepareSummary {
  std::size_t documents = 0, train_documents = 0, val_documents = 0;
  std::uint64_t train_tokens = 0, val_tokens = 0;
};

// Byte offset of the first invalid UTF-8 sequence, or npos.
inline std::size_t invalid_utf8_at(const std::string& s) {
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    const unsigned char c = p[i];
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + std::size_t(n) >= s.size()) return i;  // bad lead byte, or truncated
    for (int k = 1; k <= n; ++k)
      if (i + k >= s.size() || (p[i + k] >> 6) != 2) return i;
    i += std::size_t(n) + 1;
  }
  return std::string::npos;
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (const auto bad = invalid_utf8_at(s); bad != std::string::npos)
    throw file_error(path, "not valid UTF-8 (byte " + std::to_string(bad) + ")");
  return s;
}

// Splits at blank lines; drops empty pieces.
inline std::vector<std::string> split_paragraphs(const std::string& text) {
  std::vector<std::string> out;
  std::string cur, line;
  std::istringstream in(text);
  auto flush = [&] {
    if (cur.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) flush();
    else cur += line + "\n";
  }
  flush();
  return out;
}

inline PrepareSummary prepare_data(const PrepareOptions& opt) {
  namespace fs = std::filesystem;
  if (opt.texts.empty()) throw Error("mixln-prepare needs --text FILE...");
  if (opt.val_frac <= 0 || opt.val_frac >= 1) throw Error("--val-frac must lie in (0, 1)");
  if (opt.vocab_size < 300)
    throw Error("--vocab " + std::to_string(opt.vocab_size) +
                " is too small (the tokenizer needs 256 byte pieces, 3 specials and some words)");
  std::vector<std::string> docs;
  for (auto& f : opt.texts) {
    std::string t = read_text_file(f);
    if (t.find_first_not_of(" \t\r\n") == std::string::npos) throw file_error(f, "holds no text");
    if (opt.texts.size() == 1) docs = split_paragraphs(t);
    else docs.push_back(std::move(t));
  }
  if (docs.size() < 2)
    throw Error("need at least two documents to split train/validation (give several files, or "
                "one file with blank-line separated paragraphs)");
  std::vector<std::size_t> order(docs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(splitmix64(opt.seed ^ 0x70726570ull));
  for (std::size_t k = order.size() - 1; k > 0; --k) std::swap(order[k], order[rng.below(k + 1)]);
  const std::size_t n_val =
      std::clamp<std::size_t>(std::size_t(std::ceil(opt.val_frac * double(docs.size()))), 1, docs.size() - 1);
  std::vector<std::size_t> val(order.begin(), order.begin() + long(n_val)),
      train(order.begin() + long(n_val), order.end());
  std::sort(val.begin(), val.end());
  std::sort(train.begin(), train.end());

  fs::create_directories(opt.out);
  // Tokenizer: trained on the training documents.
  const std::string corpus = (fs::path(opt.out) / ".tokenizer-corpus.txt").string();
  {
    std::ofstream c(corpus, std::ios::binary);
    for (auto i : train) c << docs[i] << (docs[i].ends_with("\n") ? "" : "\n");
    if (!c) throw file_error(corpus, "cannot write");
  }
  const std::string prefix = (fs::path(opt.out) / ".tokenizer-tmp").string();
  try {
    Tokenizer::train({corpus}, prefix, {opt.vocab_size, opt.model_type, opt.threads, 2000000, opt.seed});
  } catch (...) {
    fs::remove(corpus);
    throw;
  }
  fs::remove(corpus);
  fs::rename(prefix + ".model", fs::path(opt.out) / "tokenizer.model");
  fs::rename(prefix + ".vocab", fs::path(opt.out) / "tokenizer.vocab");
  Tokenizer tok((fs::path(opt.out) / "tokenizer.model").string());
  if (tok.vocab_size() != opt.vocab_size)
    throw Error("the trained tokenizer has " + std::to_string(tok.vocab_size()) +
                " pieces, not --vocab " + std::to_string(opt.vocab_size));

  std::vector<std::vector<int>> encoded(docs.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < docs.size(); ++i) encoded[i] = tok.encode(docs[i]);

  PrepareSummary sum;
  sum.documents = docs.size();
  auto write_split = [&](const std::vector<std::size_t>& idx, const char* name) {
    std::vector<std::uint32_t> ids;
    for (auto i : idx) {
      for (int t : encoded[i]) ids.push_back(std::uint32_t(t));
      ids.push_back(std::uint32_t(tok.eos_id()));
    }
    ShardInfo info;
    info.dtype = shard_dtype_for(opt.vocab_size);
    info.tokenizer = "tokenizer.model";
    for (auto i : idx) info.source.push_back(opt.texts.size() == 1 ? opt.texts[0] + "#" + std::to_string(i) : opt.texts[i]);
    info.documents = idx.size();
    info.vocab_size = opt.vocab_size;
    write_shard((fs::path(opt.out) / (std::string(name) + ".bin")).string(), ids, info);
    return std::uint64_t(ids.size());
  };
  sum.train_tokens = write_split(train, "train");
  sum.val_tokens = write_split(val, "val");
  sum.train_documents = train.size();
  sum.val_documents = val.size();
  return sum;
}

}  // namespace mixln
