// mixln/train/checkpoint.hpp — checkpoints of a training run.
//
//   RUN_DIR/ckpt-00000100/model.safetensors       parameters (names of docs/design.md §2.2, F32)
//   RUN_DIR/ckpt-00000100/optimizer.safetensors   exp_avg.<name>, exp_avg_sq.<name>
//   RUN_DIR/ckpt-00000100/state.json              step, data position, seed, the run's
//                                                 settings, and size + FNV-1a hash of each file
//   RUN_DIR/latest                                "ckpt-00000100"
//
// A checkpoint is written into a temporary directory and renamed into place; `latest` is
// then replaced atomically, and older checkpoints beyond `keep` are removed. A crash at any
// point leaves the previous checkpoint and `latest` intact. Loading verifies every file's
// size and hash, so a truncated or corrupt checkpoint is refused with an error.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/atomic_file.hpp"
#include "../io/mapped_file.hpp"
#include "../io/model_description.hpp"
#include "../io/model_io.hpp"

namespace mixln {

inline std::string fnv1a64_file(const std::string& path) {
  MappedFile m(path);
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < m.size(); ++i) h = (h ^ m.data()[i]) * 0x100000001b3ull;
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

inline std::string checkpoint_name(long long step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "ckpt-%08lld", step);
  return buf;
}

// The directory `latest` points to, or "" when the run has no checkpoint.
inline std::string latest_checkpoint(const std::string& run_dir) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(run_dir) / "latest";
  if (!fs::exists(p)) return "";
  std::ifstream in(p);
  std::string name;
  std::getline(in, name);
  if (name.empty() || name.find('/') != std::string::npos)
    throw file_error(p.string(), "does not name a checkpoint directory");
  const fs::path dir = fs::path(run_dir) / name;
  if (!fs::is_directory(dir)) throw file_error(p.string(), "points to " + name + ", which does not exist");
  return dir.string();
}

// Reads state.json of a checkpoint directory and verifies the files it lists.
inline nlohmann::json verify_checkpoint(const std::string& dir) {
  namespace fs = std::filesystem;
  const std::string sp = (fs::path(dir) / "state.json").string();
  std::ifstream in(sp);
  if (!in) throw file_error(sp, "cannot open (the checkpoint is incomplete)");
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range (406)
    throw file_error(sp, std::string("corrupt (") + e.what() + ")");
  }
  // What the readers of a checkpoint take from state.json, checked here once: a step, the data
  // position, the model's signature and the run's settings, and each file with its size and hash.
  if (!st.is_object() || !st.contains("files") || !st.contains("step") || !st["files"].is_object())
    throw file_error(sp, "not a mixln checkpoint state (no step or files)");
  if (!st["step"].is_number_integer() || st["step"].get<long long>() < 0)
    throw file_error(sp, "corrupt: step is not a non-negative integer");
  if (st.contains("data_sequence") && !st["data_sequence"].is_number_unsigned())
    throw file_error(sp, "corrupt: data_sequence is not a non-negative integer");
  for (const char* key : {"model", "train"})
    if (st.contains(key) && !st[key].is_object()) throw file_error(sp, std::string("corrupt: ") + key + " is not an object");
  if (st.contains("train") && st["train"].contains("seq") &&
      !(st["train"]["seq"].is_number_unsigned() && st["train"]["seq"].get<std::uint64_t>() - 1 < (1ull << 31) - 1))
    throw file_error(sp, "corrupt: train.seq is not a positive integer below 2^31");
  for (auto it = st["files"].begin(); it != st["files"].end(); ++it) {
    const std::string& name = it.key();
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
      throw file_error(sp, "corrupt: lists '" + name + "', not a file of the checkpoint's folder");
    const nlohmann::json& rec = it.value();
    if (!rec.is_object() || !rec.contains("bytes") || !rec["bytes"].is_number_unsigned() || !rec.contains("fnv1a64") ||
        !rec["fnv1a64"].is_string())
      throw file_error(sp, "corrupt: the record of " + name + " lacks its bytes or fnv1a64");
    const std::string f = (fs::path(dir) / name).string();
    if (!fs::is_regular_file(f)) throw file_error(f, "missing from the checkpoint");
    const auto bytes = rec["bytes"].get<std::uint64_t>();
    if (fs::file_size(f) != bytes)
      throw file_error(f, "truncated or corrupt: " + std::to_string(fs::file_size(f)) +
                              " bytes, the checkpoint recorded " + std::to_string(bytes));
    if (fnv1a64_file(f) != rec["fnv1a64"].get<std::string>())
      throw file_error(f, "corrupt: its hash differs from the one the checkpoint recorded");
  }
  return st;
}

// Writes a checkpoint: `write(tmp_dir)` fills a temporary directory with the named files,
// then state.json (with `state` plus file hashes) is added and the directory renamed into
// RUN_DIR/ckpt-<step>; `latest` is updated; all but the newest `keep` checkpoints removed.
template <class WriteFiles>
std::string save_checkpoint(const std::string& run_dir, long long step, nlohmann::json state,
                            const std::vector<std::string>& files, WriteFiles&& write, int keep = 2) {
  namespace fs = std::filesystem;
  fs::create_directories(run_dir);
  const fs::path tmp = fs::path(run_dir) / (".ckpt-tmp-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // A failed write (a full disk, say) removes its half-written folder; the previous checkpoint
  // and `latest` are untouched.
  struct RemoveOnFailure {
    fs::path dir;
    bool armed = true;
    ~RemoveOnFailure() {
      std::error_code ec;
      if (armed) fs::remove_all(dir, ec);
    }
  } guard{tmp};
  write(tmp.string());
  nlohmann::json f = nlohmann::json::object();
  for (auto& name : files) {
    const std::string p = (tmp / name).string();
    f[name] = {{"bytes", fs::file_size(p)}, {"fnv1a64", fnv1a64_file(p)}};
  }
  state["files"] = f;
  state["step"] = step;
  write_file_atomic((tmp / "state.json").string(), state.dump(2) + "\n");
  const std::string name = checkpoint_name(step);
  const fs::path dst = fs::path(run_dir) / name;
  if (fs::exists(dst)) {  // re-saving a step: move the old one aside first
    const fs::path old = fs::path(run_dir) / (".ckpt-old-" + std::to_string(::getpid()));
    fs::remove_all(old);
    fs::rename(dst, old);
    fs::rename(tmp, dst);
    fs::remove_all(old);
  } else {
    fs::rename(tmp, dst);
  }
  guard.armed = false;
  write_file_atomic((fs::path(run_dir) / "latest").string(), name + "\n");
  std::vector<std::string> all;
  for (auto& e : fs::directory_iterator(run_dir)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("ckpt-", 0) == 0) all.push_back(n);
  }
  std::sort(all.begin(), all.end());
  for (std::size_t i = 0; i + std::size_t(keep) < all.size(); ++i)
    if (all[i] != name) fs::remove_all(fs::path(run_dir) / all[i]);
  return dst.string();
}

// Loads parameters from the latest checkpoint of a run (checked against the model type);
// returns the checkpoint's state.json.
template <class Net, class T>
nlohmann::json load_run_params(const ParamLayout& layout, std::span<T> params, const std::string& run_dir) {
  const std::string dir = latest_checkpoint(run_dir);
  if (dir.empty()) throw file_error(run_dir, "holds no checkpoint (no 'latest' file)");
  nlohmann::json st = verify_checkpoint(dir);
  if (st.contains("model") && !signature_matches<Net>(st["model"]))
    throw file_error(dir, "is a checkpoint of another model: " + st["model"].dump());
  load_params(layout, params, (std::filesystem::path(dir) / "model.safetensors").string());
  return st;
}

}  // namespace mixln
