// mixln/io/hf_weights.hpp — the weights of a Hugging Face folder, single or sharded.
//
//   DIR/model.safetensors                                   up to --max-shard-size (5 GB)
//   DIR/model-00001-of-00003.safetensors, ...               above it, as transformers shards
//   DIR/model.safetensors.index.json                        {"metadata": {"total_size": bytes},
//                                                            "weight_map": {name: file}}
// Every file carries __metadata__ {"format": "pt"}, as transformers writes and expects.
// Reading accepts either form; loading is strict (every parameter present with its shape, no
// tensor the model lacks), `init_from` is not (it copies what matches and says what it did).
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../schedule/param_layout.hpp"
#include "safetensors.hpp"

namespace mixln {

inline constexpr std::uint64_t kDefaultMaxShardBytes = 5'000'000'000ull;  // transformers' "5GB"

inline std::string shard_name(std::size_t i, std::size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

// Writes the parameters into dir as one file, or as shards of at most max_bytes each (a tensor
// larger than max_bytes alone in its shard) with their index; removes the weight files of an
// earlier export in dir first, so no stale shard stays beside the new ones.
template <class T>
void write_hf_weights(const ParamLayout& layout, std::span<const T> values, const std::string& dir,
                      safetensors::DType dtype, std::uint64_t max_bytes = kDefaultMaxShardBytes) {
  namespace fs = std::filesystem;
  for (auto& e : fs::directory_iterator(dir)) {
    const std::string n = e.path().filename().string();
    if (n == "model.safetensors" || n == "model.safetensors.index.json" ||
        (n.rfind("model-", 0) == 0 && n.ends_with(".safetensors")))
      fs::remove(e.path());
  }
  const std::size_t width = dtype == safetensors::DType::BF16 ? 2 : 4;
  std::vector<std::vector<const ParamInfo*>> shards(1);
  std::uint64_t in_shard = 0, total = 0;
  for (const ParamInfo& p : layout.params) {
    const std::uint64_t bytes = std::uint64_t(p.count) * width;
    if (in_shard > 0 && in_shard + bytes > max_bytes) shards.emplace_back(), in_shard = 0;
    shards.back().push_back(&p);
    in_shard += bytes, total += bytes;
  }
  auto write_one = [&](const std::vector<const ParamInfo*>& ps, const std::string& path) {
    safetensors::Writer w;
    w.metadata("format", "pt");
    for (const ParamInfo* p : ps) w.add(p->name, p->shape, values.data() + p->offset, dtype);
    w.write(path);
  };
  if (shards.size() == 1) {
    write_one(shards[0], (fs::path(dir) / "model.safetensors").string());
    return;
  }
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  for (std::size_t s = 0; s < shards.size(); ++s) {
    const std::string name = shard_name(s, shards.size());
    write_one(shards[s], (fs::path(dir) / name).string());
    for (const ParamInfo* p : shards[s]) map[p->name] = name;
  }
  const nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", map}};
  write_file_atomic((fs::path(dir) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
}

// The tensors of a Hugging Face folder, across its shards (or of one safetensors file).
class HfWeights {
 public:
  explicit HfWeights(const std::string& dir) : dir_(dir) {
    namespace fs = std::filesystem;
    const fs::path index = fs::path(dir) / "model.safetensors.index.json";
    if (fs::is_regular_file(dir)) {
      files_.push_back(std::make_unique<safetensors::File>(dir));
      for (auto& t : files_[0]->tensors()) where_[t.name] = 0;
    } else if (fs::exists(index)) {
      std::ifstream in(index);
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(in);
      } catch (const nlohmann::json::exception& e) {
        throw file_error(index.string(), std::string("not valid JSON (") + e.what() + ")");
      }
      if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
        throw file_error(index.string(), "has no weight_map object");
      std::map<std::string, std::size_t> file_index;
      for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
        if (!it.value().is_string()) throw file_error(index.string(), "weight_map['" + it.key() + "'] is not a file name");
        const std::string f = it.value().get<std::string>();
        if (f.find('/') != std::string::npos || f.empty())
          throw file_error(index.string(), "weight_map['" + it.key() + "'] names '" + f + "', not a file of the folder");
        auto [fi, fresh] = file_index.emplace(f, files_.size());
        if (fresh) files_.push_back(std::make_unique<safetensors::File>((fs::path(dir) / f).string()));
        const safetensors::File& file = *files_[fi->second];
        if (!file.find(it.key()))
          throw file_error(file.path(), "lacks tensor '" + it.key() + "', which the index places in it");
        where_[it.key()] = fi->second;
      }
      for (std::size_t i = 0; i < files_.size(); ++i)
        for (auto& t : files_[i]->tensors())
          if (!where_.count(t.name))
            throw file_error(files_[i]->path(), "holds tensor '" + t.name + "', which the index does not list");
    } else {
      const fs::path single = fs::path(dir) / "model.safetensors";
      if (!fs::exists(single))
        throw file_error(dir, "holds neither model.safetensors nor model.safetensors.index.json");
      files_.push_back(std::make_unique<safetensors::File>(single.string()));
      for (auto& t : files_[0]->tensors()) where_[t.name] = 0;
    }
  }

  const std::string& dir() const { return dir_; }
  bool has(const std::string& name) const { return where_.count(name) > 0; }
  const safetensors::File& file_of(const std::string& name) const { return *files_.at(where_.at(name)); }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (auto& [k, v] : where_) n.push_back(k);
    return n;
  }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<safetensors::File>> files_;
  std::map<std::string, std::size_t> where_;
};

// Loads every parameter from the folder, strictly (as load_params does for one file).
template <class T>
void load_hf_params(const ParamLayout& layout, std::span<T> params, const HfWeights& w) {
  for (const ParamInfo& p : layout.params) {
    if (!w.has(p.name)) throw file_error(w.dir(), "missing tensor '" + p.name + "'");
    w.file_of(p.name).read_float(p.name, p.shape, params.data() + p.offset);
  }
  for (const std::string& n : w.names())
    if (!layout.find(n))
      throw file_error(w.dir(), "unexpected tensor '" + n + "' (not a parameter of this model; was it saved from "
                                "another placement?)");
}

// What init_from did.
struct InitFromReport {
  std::vector<std::string> loaded, kept_init, unused;
};

// Copies every tensor of the source whose name and shape match a parameter (a shape that
// differs is an error); parameters the source lacks keep their fresh initialisation, tensors
// the model lacks are left out. This is how a Pre-LN LLaMA starts a run of any stack of the same
// dimensions: its linears and embeddings carry over, the norms it does not have start at their
// kinds' init (RMSNorm weights 1, ...), the norms it has and the new stack lacks are dropped.
template <class T>
InitFromReport init_from(const ParamLayout& layout, std::span<T> params, const HfWeights& w) {
  InitFromReport r;
  for (const ParamInfo& p : layout.params) {
    if (!w.has(p.name)) {
      r.kept_init.push_back(p.name);
      continue;
    }
    w.file_of(p.name).read_float(p.name, p.shape, params.data() + p.offset);  // checks the shape
    r.loaded.push_back(p.name);
  }
  for (const std::string& n : w.names())
    if (!layout.find(n)) r.unused.push_back(n);
  return r;
}

// Reads every tensor init_from would copy (checking its shape) and names the first that holds
// NaN or an infinity; empty if none. One tensor at a time, so a run can refuse a bad source
// before it creates anything on disk.
inline std::optional<std::string> first_nonfinite_shared_tensor(const ParamLayout& layout, const HfWeights& w) {
  std::vector<float> buf;
  for (const ParamInfo& p : layout.params) {
    if (!w.has(p.name)) continue;
    buf.resize(p.count);
    w.file_of(p.name).read_float(p.name, p.shape, buf.data());
    for (float v : buf)
      if (!std::isfinite(v)) return p.name;
  }
  return std::nullopt;
}

}  // namespace mixln
