// mixln/data/shards.hpp — token shards: a file of little-endian token ids plus a JSON sidecar.
//
//   DIR/train.bin        uint16 ids (uint32 when the vocabulary exceeds 65536)
//   DIR/train.bin.json   {"dtype": "uint16", "count": N, "tokenizer": "tokenizer.model",
//                         "source": [...], "documents": D, "vocab_size": V}
//
// A split is either one file (`train.bin`) or numbered shards (`train-00000.bin`, ...); a
// TokenStream maps them all and reads them as one sequence, so a window may straddle two
// files. Documents are separated by the tokenizer's </s> id.
//
// Nothing in a shard is trusted: opening one checks the sidecar (dtype, count, vocab_size;
// the file's size equals count × width, computed without overflow) and scans every id once
// against the model's vocabulary — one pass over the mapped file at memory speed — so a
// sidecar that lies, or data prepared for a larger vocabulary, is refused with the file and
// position named before any token reaches a model.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/atomic_file.hpp"
#include "../io/mapped_file.hpp"

namespace mixln {

struct ShardInfo {
  std::string dtype = "uint16";
  std::uint64_t count = 0;
  std::string tokenizer = "tokenizer.model";
  std::vector<std::string> source;
  std::uint64_t documents = 0;
  int vocab_size = 0;
};

inline std::string shard_dtype_for(int vocab_size) { return vocab_size <= 65536 ? "uint16" : "uint32"; }

// Writes ids as one shard file and its sidecar, both atomically.
inline void write_shard(const std::string& path, const std::vector<std::uint32_t>& ids, ShardInfo info) {
  info.count = ids.size();
  {
    AtomicFile f(path);
    if (info.dtype == "uint16") {
      std::vector<std::uint16_t> v(ids.size());
      for (std::size_t i = 0; i < ids.size(); ++i) v[i] = std::uint16_t(ids[i]);
      f.write(v.data(), v.size() * 2);
    } else {
      f.write(ids.data(), ids.size() * 4);
    }
    f.commit();
  }
  nlohmann::ordered_json j = {{"dtype", info.dtype},     {"count", info.count},
                              {"tokenizer", info.tokenizer}, {"source", info.source},
                              {"documents", info.documents}, {"vocab_size", info.vocab_size}};
  write_file_atomic(path + ".json", j.dump(2) + "\n");
}

inline ShardInfo read_sidecar(const std::string& bin_path) {
  const std::string p = bin_path + ".json";
  std::ifstream in(p);
  if (!in) throw file_error(p, "cannot open the shard's sidecar");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range (406)
    throw file_error(p, std::string("not valid JSON (") + e.what() + ")");
  }
  ShardInfo s;
  try {
    if (!j.is_object()) throw file_error(p, "malformed sidecar: not a JSON object");
    s.dtype = j.at("dtype").get<std::string>();
    if (!j.at("count").is_number_unsigned())
      throw file_error(p, "malformed sidecar: count is not a non-negative integer");
    s.count = j.at("count").get<std::uint64_t>();
    s.tokenizer = j.value("tokenizer", std::string("tokenizer.model"));
    s.documents = j.value("documents", std::uint64_t(0));
    if (j.contains("vocab_size") && !(j["vocab_size"].is_number_unsigned() && j["vocab_size"].get<std::uint64_t>() < (1ull << 31)))
      throw file_error(p, "malformed sidecar: vocab_size is not an integer in [0, 2^31)");
    s.vocab_size = j.value("vocab_size", 0);
    if (j.contains("source")) s.source = j["source"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw file_error(p, std::string("malformed sidecar: ") + e.what());
  }
  if (s.dtype != "uint16" && s.dtype != "uint32")
    throw file_error(p, "dtype '" + s.dtype + "' is neither uint16 nor uint32");
  return s;
}

// The shard files of split `name` ("train", "val") in `dir`, in order.
inline std::vector<std::string> find_shards(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path single = fs::path(dir) / (name + ".bin");
  if (fs::exists(single)) return {single.string()};
  std::vector<std::string> out;
  if (fs::is_directory(dir))
    for (auto& e : fs::directory_iterator(dir)) {
      const std::string f = e.path().filename().string();
      if (f.rfind(name + "-", 0) == 0 && f.size() > 4 && f.substr(f.size() - 4) == ".bin")
        out.push_back(e.path().string());
    }
  std::sort(out.begin(), out.end());
  if (out.empty())
    throw file_error(dir, "no " + name + ".bin (nor " + name +
                              "-NNNNN.bin shards); run mixln-prepare to make them");
  return out;
}

// All shards of a split, memory-mapped and read as one token sequence.
class TokenStream {
 public:
  TokenStream() = default;
  // Opens and checks every shard; `vocab` is the model's vocabulary size: every id must lie
  // in [0, vocab), and a sidecar recording a larger vocabulary is refused.
  TokenStream(const std::vector<std::string>& files, std::size_t vocab) {
    for (auto& f : files) {
      Shard s;
      s.info = read_sidecar(f);
      if (s.info.vocab_size > 0 && std::size_t(s.info.vocab_size) > vocab)
        throw file_error(f, "was made with vocab " + std::to_string(s.info.vocab_size) +
                                ", larger than the model's vocab " + std::to_string(vocab));
      s.map = MappedFile(f);
      s.width = s.info.dtype == "uint16" ? 2 : 4;
      std::uint64_t bytes = 0;
      const bool overflow = __builtin_mul_overflow(s.info.count, std::uint64_t(s.width), &bytes);
      if (overflow || s.map.size() != bytes)
        throw file_error(f, "holds " + std::to_string(s.map.size()) + " bytes but its sidecar says " +
                                std::to_string(s.info.count) + " " + s.info.dtype + " tokens (" +
                                (overflow ? std::string("more bytes than fit in 64 bits")
                                          : std::to_string(bytes) + " bytes") +
                                ")");
      check_ids(s, f, vocab);
      s.start = total_;
      total_ += s.info.count;
      shards_.push_back(std::move(s));
    }
  }

  std::uint64_t size() const { return total_; }
  std::size_t num_shards() const { return shards_.size(); }
  const ShardInfo& info(std::size_t i = 0) const { return shards_.at(i).info; }

  // Copies tokens [pos, pos + n) into out, crossing shard boundaries as needed.
  void read(std::uint64_t pos, std::size_t n, std::int32_t* out) const {
    if (pos + n > total_)
      throw Error("token stream: read of [" + std::to_string(pos) + ", " + std::to_string(pos + n) +
                  ") past its end (" + std::to_string(total_) + " tokens)");
    auto it = std::upper_bound(shards_.begin(), shards_.end(), pos,
                               [](std::uint64_t p, const Shard& s) { return p < s.start; });
    std::size_t si = std::size_t(it - shards_.begin()) - 1;
    while (n) {
      const Shard& s = shards_[si];
      const std::uint64_t off = pos - s.start;
      const std::size_t take = std::size_t(std::min<std::uint64_t>(n, s.info.count - off));
      const unsigned char* p = s.map.data() + off * s.width;
      for (std::size_t i = 0; i < take; ++i) {
        if (s.width == 2) {
          std::uint16_t v;
          std::memcpy(&v, p + 2 * i, 2);
          out[i] = v;
        } else {
          std::uint32_t v;
          std::memcpy(&v, p + 4 * i, 4);
          out[i] = std::int32_t(v);
        }
      }
      out += take, pos += take, n -= take;
      ++si;
    }
  }

 private:
  struct Shard {
    ShardInfo info;
    MappedFile map;
    std::size_t width = 2;
    std::uint64_t start = 0;
  };
  // Every id < vocab: the maximum over the file, then (only on failure) the first offender.
  template <class U>
  static std::uint64_t max_id(const unsigned char* p, std::uint64_t n) {
    U m = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
      U v;
      std::memcpy(&v, p + sizeof(U) * i, sizeof(U));
      m = v > m ? v : m;
    }
    return m;
  }
  static void check_ids(const Shard& s, const std::string& path, std::size_t vocab) {
    const std::uint64_t n = s.info.count;
    const std::uint64_t m = s.width == 2 ? max_id<std::uint16_t>(s.map.data(), n)
                                         : max_id<std::uint32_t>(s.map.data(), n);
    if (n == 0 || m < vocab) return;
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint32_t v = 0;
      if (s.width == 2) {
        std::uint16_t h;
        std::memcpy(&h, s.map.data() + 2 * i, 2);
        v = h;
      } else {
        std::memcpy(&v, s.map.data() + 4 * i, 4);
      }
      if (v >= vocab)
        throw file_error(path, "token " + std::to_string(i) + " has id " + std::to_string(v) +
                                   ", outside the model's vocabulary [0, " + std::to_string(vocab) +
                                   ") (prepared for another vocabulary, or a sidecar with the wrong dtype?)");
    }
  }

  std::vector<Shard> shards_;
  std::uint64_t total_ = 0;
};

}  // namespace mixln
