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
#include "../io/paths.hpp"
#include "../io/replace_folder.hpp"
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

// The first invalid UTF-8 sequence of s (RFC 3629: no overlong forms, no surrogates
// U+D800–U+DFFF, nothing above U+10FFFF, no truncated sequences): its byte offset and why, or
// npos.
struct Utf8Error {
  std::size_t at = std::string::npos;
  const char* why = "";
};
inline Utf8Error invalid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  auto cont = [&](std::size_t i) { return i < n && (p[i] & 0xC0) == 0x80; };
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;  // below: overlong
    else if (c == 0xED) len = 3, hi = 0x9F;  // above: surrogates
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;  // below: overlong
    else if (c == 0xF4) len = 4, hi = 0x8F;  // above: beyond U+10FFFF
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xC0 || c == 0xC1) return {i, "an overlong encoding"};
    else if (c >= 0xF5) return {i, "a byte that starts no UTF-8 sequence (beyond U+10FFFF)"};
    else return {i, "a continuation byte without a lead byte"};
    if (i + 1 >= n || !cont(i + 1)) return {i, "a truncated sequence"};
    if (p[i + 1] < lo || p[i + 1] > hi)
      return {i, c == 0xED ? "a UTF-16 surrogate" : c == 0xF4 ? "a code point beyond U+10FFFF" : "an overlong encoding"};
    for (int k = 2; k < len; ++k)
      if (!cont(i + std::size_t(k))) return {i, "a truncated sequence"};
    i += std::size_t(len);
  }
  return {};
}

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw file_error(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (const Utf8Error bad = invalid_utf8(s); bad.at != std::string::npos)
    throw file_error(path, "not valid UTF-8: " + std::string(bad.why) + " at byte " + std::to_string(bad.at));
  return s;
}

// What mixln-prepare writes into its folder (a folder holding anything else is not replaced).
inline bool is_prepared_file(const std::string& name) {
  for (const char* f : {"tokenizer.model", "tokenizer.vocab", "train.bin", "train.bin.json", "val.bin", "val.bin.json"})
    if (name == f) return true;
  for (const char* split : {"train-", "val-"})
    if (name.rfind(split, 0) == 0 && (name.ends_with(".bin") || name.ends_with(".bin.json"))) return true;
  return false;
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

namespace detail {
// Refuses bad options and an --out folder that holds files mixln-prepare did not write.
inline void check_prepare_options(const PrepareOptions& opt) {
  if (opt.texts.empty()) throw Error("mixln-prepare needs --text FILE...");
  if (opt.val_frac <= 0 || opt.val_frac >= 1) throw Error("--val-frac must lie in (0, 1)");
  if (opt.vocab_size < 300)
    throw Error("--vocab " + std::to_string(opt.vocab_size) +
                " is too small (the tokenizer needs 256 byte pieces, 3 specials and some words)");
  for (auto& f : opt.texts)
    if (path_inside(f, opt.out))
      throw Error("--text " + f + " lies inside --out " + opt.out +
                  ", which mixln-prepare replaces as a whole; choose another --out");
  refuse_foreign_files(opt.out, is_prepared_file, "mixln-prepare");
}

// The documents: one per file, or with a single file its blank-line separated paragraphs.
inline std::vector<std::string> read_documents(const PrepareOptions& opt) {
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
  return docs;
}

// A seeded shuffle of the documents: the first ⌈val_frac·n⌉ (at least one, at most n − 1) are
// the validation split; each split keeps the documents' order.
struct DocumentSplit {
  std::vector<std::size_t> train, val;
};
inline DocumentSplit split_documents(std::size_t n, const PrepareOptions& opt) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(splitmix64(opt.seed ^ 0x70726570ull));
  for (std::size_t k = order.size() - 1; k > 0; --k) std::swap(order[k], order[rng.below(k + 1)]);
  const std::size_t n_val = std::clamp<std::size_t>(std::size_t(std::ceil(opt.val_frac * double(n))), 1, n - 1);
  DocumentSplit s{std::vector<std::size_t>(order.begin() + long(n_val), order.end()),
                  std::vector<std::size_t>(order.begin(), order.begin() + long(n_val))};
  std::sort(s.val.begin(), s.val.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

// WORK/tokenizer.model and .vocab, trained on the training documents.
inline void train_tokenizer(const std::string& work, const std::vector<std::string>& docs,
                                 const std::vector<std::size_t>& train, const PrepareOptions& opt) {
  namespace fs = std::filesystem;
  const std::string corpus = (fs::path(work) / ".tokenizer-corpus.txt").string();
  {
    std::ofstream c(corpus, std::ios::binary);
    for (auto i : train) c << docs[i] << (docs[i].ends_with("\n") ? "" : "\n");
    if (!c) throw file_error(corpus, "cannot write");
  }
  const std::string prefix = (fs::path(work) / ".tokenizer-tmp").string();
  try {
    Tokenizer::train({corpus}, prefix, {opt.vocab_size, opt.model_type, opt.threads, 2000000, opt.seed});
  } catch (...) {
    fs::remove(corpus);
    throw;
  }
  fs::remove(corpus);
  fs::rename(prefix + ".model", fs::path(work) / "tokenizer.model");
  fs::rename(prefix + ".vocab", fs::path(work) / "tokenizer.vocab");
}

// WORK/NAME.bin and its sidecar: the documents idx, each followed by EOS; returns the token count.
inline std::uint64_t write_split(const std::string& work, const char* name, const std::vector<std::size_t>& idx,
                                 const std::vector<std::vector<int>>& encoded, int eos, const PrepareOptions& opt) {
  std::vector<std::uint32_t> ids;
  for (auto i : idx) {
    for (int t : encoded[i]) ids.push_back(std::uint32_t(t));
    ids.push_back(std::uint32_t(eos));
  }
  ShardInfo info;
  info.dtype = shard_dtype_for(opt.vocab_size);
  info.tokenizer = "tokenizer.model";
  for (auto i : idx) info.source.push_back(opt.texts.size() == 1 ? opt.texts[0] + "#" + std::to_string(i) : opt.texts[i]);
  info.documents = idx.size();
  info.vocab_size = opt.vocab_size;
  write_shard((std::filesystem::path(work) / (std::string(name) + ".bin")).string(), ids, info);
  return std::uint64_t(ids.size());
}
}  // namespace detail

inline PrepareSummary prepare_data(const PrepareOptions& opt) {
  namespace fs = std::filesystem;
  detail::check_prepare_options(opt);
  const std::vector<std::string> docs = detail::read_documents(opt);
  const detail::DocumentSplit split = detail::split_documents(docs.size(), opt);

  // Everything is written into a folder beside --out, then put in its place as a whole: a
  // failure leaves --out as it was (and removes the half-written folder).
  StagedFolder staged(opt.out);
  const std::string& work = staged.path();
  detail::train_tokenizer(work, docs, split.train, opt);
  const Tokenizer tok((fs::path(work) / "tokenizer.model").string());
  if (tok.vocab_size() != opt.vocab_size)
    throw Error("the trained tokenizer has " + std::to_string(tok.vocab_size()) +
                " pieces, not --vocab " + std::to_string(opt.vocab_size));

  std::vector<std::vector<int>> encoded(docs.size());
#pragma omp parallel for schedule(dynamic)
  for (std::size_t i = 0; i < docs.size(); ++i) encoded[i] = tok.encode(docs[i]);

  PrepareSummary sum;
  sum.documents = docs.size();
  sum.train_tokens = detail::write_split(work, "train", split.train, encoded, tok.eos_id(), opt);
  sum.val_tokens = detail::write_split(work, "val", split.val, encoded, tok.eos_id(), opt);
  sum.train_documents = split.train.size();
  sum.val_documents = split.val.size();
  staged.commit();
  return sum;
}

}  // namespace mixln
